"""Tests here call ``lingshu.cli.main.main`` in-process; its root callback runs
``logging.basicConfig``, which would leave a handler on pytest's captured (later closed)
stderr for every test that follows. Restore the root logger after each test."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _restore_root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for h in root.handlers[:]:
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
