"""Training test fixtures (the tiny Qwen2.5-VL comes from tests/conftest.py): small images and JSONL files in each style."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _train_helpers import make_images, qwen_row, write_jsonl


@pytest.fixture()
def sft_jsonl(tmp_path) -> Path:
    """12 rows: images and text-only, mixed lengths."""
    make_images(tmp_path / "images")
    rows = []
    for i in range(12):
        img = ["images/a.png", "images/b.png", None][i % 3]
        rows.append(qwen_row(i, img, f"What organ is shown in case {i}?" + " more" * (i % 4), f"Answer {i}: lung" + " x" * (i % 5)))
    return write_jsonl(tmp_path / "train.jsonl", rows)


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    """Each test starts without accelerate's process-wide state: a GRPO test whose precision
    resolves to bf16 (``precision: auto`` on a CPU with bf16) would otherwise leave an
    ``AcceleratorState`` that refuses the next test's fp32 ``Accelerator``."""
    yield
    if "accelerate.state" in sys.modules:
        sys.modules["accelerate.state"].AcceleratorState._reset_state()
