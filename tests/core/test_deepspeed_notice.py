"""DeepSpeed's "Setting accelerator to CPU" notice stays out of our output (it landed in the
JSON of ``lingshu train run --dry-run --json`` once deepspeed was installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("deepspeed")
if pytest.importorskip("torch").cuda.is_available():
    pytest.skip("DeepSpeed prints the notice only where it finds no GPU", allow_module_level=True)
NOTICE = "Setting accelerator to CPU"


def _stdout_of(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True, timeout=300).stdout


def test_importing_lingshu_first_silences_only_that_notice() -> None:
    # control: without our filter DeepSpeed prints the notice on a machine without a GPU
    assert NOTICE in _stdout_of("import deepspeed")
    assert NOTICE not in _stdout_of("import lingshu, deepspeed")
    # other DeepSpeed warnings still reach its handler
    out = _stdout_of("import lingshu, deepspeed; from deepspeed.utils import logger; logger.warning('other note')")
    assert "other note" in out
