"""`lingshu train rewards` lists every registered reward and the weight presets."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lingshu.cli.main", "train", *args],
                          capture_output=True, text=True, timeout=120)


def test_train_rewards_lists_rewards_and_presets() -> None:
    r = _run("rewards")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for name in ("accuracy", "format_no_thinking", "format_thinking"):
        assert any(line.startswith(name + " ") for line in lines), name
    assert any("lingshu" in line and "format_no_thinking 0.5, accuracy 1" in line for line in lines)
    data = json.loads(_run("rewards", "--json").stdout)
    assert data["presets"]["med-r1-thinking"] == {"format_thinking": 1.0, "accuracy": 1.0}
    assert set(data["rewards"]) >= {"accuracy", "format_thinking", "format_no_thinking"}
