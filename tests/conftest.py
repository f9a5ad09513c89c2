"""Shared test setup: everything offline, caches in temporary folders."""

from __future__ import annotations

import os
import sys
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


@pytest.fixture(autouse=True)
def _nothing_said_yet():
    """Each test starts as a fresh process: a once-per-process warning is logged again."""
    logs = sys.modules.get("lingshu.core.logs")
    if logs is not None:
        logs.forget_warnings()


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory) -> Path:
    """The tiny random Qwen2.5-VL (seconds to build), once per session for every area."""
    from lingshu.models import build_tiny_qwen2_5_vl

    out = tmp_path_factory.getbasetemp() / "tiny-qwen2_5_vl"
    if not (out / "model.safetensors").is_file():
        build_tiny_qwen2_5_vl(out, seed=0)
    return out


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct converted from the GGUF its package ships (BRIEF §5)."""
    from lingshu.models import ensure_smollm2_dir

    return ensure_smollm2_dir(tmp_path_factory.getbasetemp() / "lingshu-models")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
