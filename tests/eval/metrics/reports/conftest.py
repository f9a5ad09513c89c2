"""Golden files for report metrics (made by tests/golden/reports/make_golden.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden" / "reports"


@pytest.fixture(scope="session")
def coco_golden() -> dict:
    return json.loads((GOLDEN / "coco_iu200.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tokenizer_cases() -> dict:
    return json.loads((GOLDEN / "tokenizer_cases.json").read_text(encoding="utf-8"))


def have_java() -> bool:
    return shutil.which("java") is not None
