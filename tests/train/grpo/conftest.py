"""Fixtures for GRPO tests (helpers in grpo_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grpo_helpers import build_char_model


@pytest.fixture(scope="session")
def char_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_char_model(tmp_path_factory.mktemp("char-model"))
