"""A run killed with SIGKILL resumes from its last checkpoint and continues the same loss
curve as an uninterrupted run (CPU, fixed seed): a real kill of a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _train_helpers import make_images, qwen_row, tiny_recipe, write_jsonl


def _cmd(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "lingshu.cli.main", "train", "--recipe", str(recipe)]


def _losses(run: Path) -> dict[int, float]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _recipe(tmp: Path, model: Path, data: Path, name: str) -> Path:
    d = tmp / name
    d.mkdir()
    p = tiny_recipe(d, model, data, max_steps=6, checkpoint_every=2, keep_checkpoints=2,
                    parts={"vision": 1e-2, "merger": 1e-2, "llm": 1e-3}, packing=True, per_device_batch=1)
    return p


@pytest.mark.slow
def test_kill_9_then_resume_continues_the_same_loss_curve(tiny_vl_dir, tmp_path):
    make_images(tmp_path / "images")
    rows = [qwen_row(i, ["images/a.png", None, "images/b.png"][i % 3], f"Question {i}?" + " word" * (i % 5),
                     f"Answer {i}." + " more" * (i % 3)) for i in range(24)]
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    ref = _recipe(tmp_path, tiny_vl_dir, data, "ref")
    subprocess.run(_cmd(ref), check=True, env=env, timeout=600, capture_output=True)
    ref_loss = _losses(tmp_path / "ref" / "run")
    assert sorted(ref_loss) == list(range(1, 7))

    killed = _recipe(tmp_path, tiny_vl_dir, data, "killed")
    run = tmp_path / "killed" / "run"
    proc = subprocess.Popen(_cmd(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    try:  # kill after step 3 is logged: the last checkpoint is step 2, step 3's work is lost
        while time.time() < deadline:
            if (run / "metrics.jsonl").is_file() and max(_losses(run) or {0: 0}) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail("training finished before it could be killed")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "sft" / "final").exists()
    ckpts = sorted(p.name for p in (run / "sft" / "checkpoints").glob("step-*"))
    assert ckpts and ckpts[-1] in ("step-00000002", "step-00000004")

    r = subprocess.run(_cmd(killed), env=env, timeout=600, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    got = _losses(run)
    assert sorted(got) == list(range(1, 7))  # lines after the checkpoint were replaced, not duplicated
    for step in range(1, 7):
        assert abs(got[step] - ref_loss[step]) < 1e-6, (step, got[step], ref_loss[step])
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 6
    assert (run / "sft" / "final" / "config.json").is_file()
