"""Shared test setup: everything offline, caches in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "benchmarks"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_response_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's ~/.cache/lingshu response cache."""
    monkeypatch.setenv("LINGSHU_CACHE", str(tmp_path / "lingshu-cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
