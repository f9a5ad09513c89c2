"""``bench/strict_agreement.py`` for the golden tests here: it turns a labelled case into a
``Sample`` and a verdict class, so the figures it prints and the ones the tests pin come
from the same functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "bench" / "strict_agreement.py"
    spec = importlib.util.spec_from_file_location("strict_agreement", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STRICT_AGREEMENT = _load()


@pytest.fixture()
def agreement_module() -> ModuleType:
    return STRICT_AGREEMENT
