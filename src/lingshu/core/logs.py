"""Warnings said once per process.

Some warnings describe the data, not the call: a benchmark copy smaller than the paper's
split is as small at the fifth evaluation of a pipeline run (base model, after each stage,
final) as at the first. Logged on every load they filled the logs with copies of one line;
``warn_once`` logs each (benchmark, reason) once in a process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from typing import Any

_said: set[Hashable] = set()
_lock = threading.Lock()  # a key is said once even when threads load at the same time


def warn_once(logger: logging.Logger, key: Hashable, message: str, *args: Any) -> bool:
    """``logger.warning(message, *args)`` the first time ``key`` is seen in this process;
    True when it was logged."""
    with _lock:
        if key in _said:
            return False
        _said.add(key)
    logger.warning(message, *args, stacklevel=2)
    return True


def forget_warnings() -> None:
    """Warn again as a fresh process would (tests: each test starts with nothing said)."""
    with _lock:
        _said.clear()
