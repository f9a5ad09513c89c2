"""scripts/gpu_check.sh is for GPU machines; on one without a GPU (CI, this machine) it stops
at once with one line saying so, and exit status 2, before any check starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_check_says_no_gpu_in_one_line() -> None:
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on one
    r = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stdout.splitlines() == [
        "no GPU: scripts/gpu_check.sh needs a CUDA GPU (torch.cuda.is_available() is False)"]
    assert "Traceback" not in r.stderr


def test_gpu_check_without_the_virtualenv_says_so(tmp_path: Path) -> None:
    """A Python without torch (not the project's virtualenv) gets a line, not a traceback."""
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -S -I \"$@\"\n")  # -S -I: no site-packages
    fake.chmod(0o755)
    r = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "PYTHON": str(fake)}, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stdout.startswith("no GPU check: torch is not importable")
