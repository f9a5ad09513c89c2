"""Session-wide test models, built once into pytest's base temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingshu.models import build_tiny_qwen2_5_vl, ensure_smollm2_dir


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.getbasetemp() / "tiny-qwen2_5_vl"
    if not (out / "model.safetensors").is_file():
        build_tiny_qwen2_5_vl(out, seed=0)
    return out


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    return ensure_smollm2_dir(tmp_path_factory.getbasetemp() / "lingshu-models")
