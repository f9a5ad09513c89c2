"""Issue 22: kill -9 at seeded points of `lingshu train` (real processes), including before
the first checkpoint and while the model loads; the final rerun's losses equal the
uninterrupted run's at every step, metrics.jsonl holds each step once, the final weights
are byte-identical, and no temporary file or checkpoint folder is left behind. Trained
weights honour the umask, as evaluation and curation outputs do."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _train_helpers import make_images, qwen_row, tiny_recipe, write_jsonl

pytestmark = pytest.mark.slow

SEED = 22
STEPS = 6


def _cmd(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "lingshu.cli.main", "train", "--recipe", str(recipe)]


def _steps(run: Path) -> list[tuple[int, float]]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


def _recipe(tmp: Path, model: Path, data: Path, name: str) -> Path:
    d = tmp / name
    d.mkdir()
    return tiny_recipe(d, model, data, max_steps=STEPS, checkpoint_every=2, keep_checkpoints=2,
                       per_device_batch=1)


def _data(tmp_path: Path) -> Path:
    make_images(tmp_path / "images")
    rows = [qwen_row(i, ["images/a.png", None, "images/b.png"][i % 3], f"Question {i}?",
                     f"Answer {i}.") for i in range(16)]
    return write_jsonl(tmp_path / "train.jsonl", rows)


def _kill_when(proc: subprocess.Popen, run: Path, after_step: int, extra_s: float) -> bool:
    """SIGKILL once ``after_step`` is logged (0: once the run folder exists) plus
    ``extra_s``; False when the run finished first."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        logged = max((s for s, _ in _steps(run)), default=0)
        if (run.exists() if after_step == 0 else logged >= after_step):
            time.sleep(extra_s)
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return True


def leftovers(run: Path) -> list[str]:
    return [str(p) for p in run.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def test_seeded_kill_9_schedule_then_rerun_equals_the_uninterrupted_run(tiny_vl_dir, tmp_path):
    data = _data(tmp_path)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ref = _recipe(tmp_path, tiny_vl_dir, data, "ref")
    subprocess.run(_cmd(ref), check=True, env=env, timeout=600, capture_output=True)
    ref_steps = _steps(tmp_path / "ref" / "run")
    assert [s for s, _ in ref_steps] == list(range(1, STEPS + 1))

    killed = _recipe(tmp_path, tiny_vl_dir, data, "killed")
    run = tmp_path / "killed" / "run"
    rng = random.Random(SEED)
    # while loading (0), before the first checkpoint (1), then a seeded later step
    schedule = [(0, rng.uniform(0.0, 1.5)), (1, rng.uniform(0.0, 0.3)),
                (rng.randint(3, STEPS - 1), rng.uniform(0.0, 0.3))]
    for after_step, extra_s in schedule:
        proc = subprocess.Popen(_cmd(killed), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        assert _kill_when(proc, run, after_step, extra_s), f"finished before step {after_step}"
    res = subprocess.run(_cmd(killed), env=env, timeout=600, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    got = _steps(run)
    assert [s for s, _ in got] == list(range(1, STEPS + 1))  # each step once
    for (step, loss), (_, want) in zip(got, ref_steps, strict=True):
        assert abs(loss - want) < 1e-6, (step, loss, want)
    final = run / "sft" / "final" / "model.safetensors"
    assert final.read_bytes() == (tmp_path / "ref" / "run" / "sft" / "final" / "model.safetensors").read_bytes()
    assert leftovers(run) == []


def test_a_resume_removes_temporary_checkpoint_folders(tiny_vl_dir, tmp_path):
    """What a kill between mkdtemp and rename leaves (``checkpoints/.step-*``,
    ``.final.*``) is removed when the stage starts again."""
    data = _data(tmp_path)
    recipe = _recipe(tmp_path, tiny_vl_dir, data, "r")
    run = tmp_path / "r" / "run"
    stale = [run / "sft" / "checkpoints" / ".step-00000002.k3j4", run / "sft" / ".final.x7y8"]
    for d in stale:
        d.mkdir(parents=True)
        (d / "trainable.safetensors").write_bytes(b"half")
    res = subprocess.run(_cmd(recipe), timeout=600, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert leftovers(run) == []


def test_trained_weights_honour_the_umask(tiny_vl_dir, tmp_path):
    data = _data(tmp_path)
    recipe = _recipe(tmp_path, tiny_vl_dir, data, "u")
    res = subprocess.run(["sh", "-c", "umask 022 && exec \"$@\"", "sh", *_cmd(recipe)],
                         timeout=600, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    final = tmp_path / "u" / "run" / "sft" / "final"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [final, *final.iterdir()]}
    assert modes[final.name] == 0o755 and modes["model.safetensors"] == 0o644, modes
    assert set(modes.values()) <= {0o755, 0o644}, modes
    ckpt = next((tmp_path / "u" / "run" / "sft" / "checkpoints").glob("step-*"))
    assert stat.S_IMODE(ckpt.stat().st_mode) == 0o755
