"""A sample of ``scripts/attack_cases.py`` (issue 22's attacker and careless-user cases) in
CI: one case in ten of the evaluation-CLI and training/pipeline classes, through the real
entry point in a worker process. The whole script (about 400 cases, ~12 minutes on 2
cores, the server included) is run by hand; its figures are in docs/security.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_sample_of_the_attack_cases_is_acceptable(tmp_path):
    res = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "attack_cases.py"), "--sample", "--only",
         "9 eval,10 eval,13 train", "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
    )
    total = re.search(r"^total\s+(\d+)\s+(\d+)$", res.stdout, re.M)
    assert total, res.stdout[-2000:] + res.stderr[-2000:]
    tried, acceptable = map(int, total.groups())
    assert tried >= 5 and acceptable == tried, res.stdout
    assert res.returncode == 0
