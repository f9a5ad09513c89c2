"""Issue 22: kill -9 at seeded points of `lingshu data run` (real processes), then rerun:
the output equals the uninterrupted run's file for file, and no temporary file is left
anywhere in the output folder."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from curation_helpers import rad_images, write_jsonl, write_recipe

pytestmark = pytest.mark.slow

SEED = 22
KILLS = 3


def _recipe(tmp_path: Path, out: str) -> Path:
    write_jsonl(tmp_path / "rad.jsonl", [
        {"id": p.stem, "image": str(p), "question": "Describe.", "answer": f"Image {p.stem}."}
        for p in rad_images(80)])
    path = write_recipe(tmp_path / f"{out}.yaml", [{"name": "rad", "path": "rad.jsonl"}],
                        [{"op": "image_decodable"}, {"op": "image_phash"},
                         {"op": "image_dedup", "threshold": 4}, {"op": "modality_label"}],
                        out=out, shard_size=4)
    recipe = yaml.safe_load(path.read_text())
    recipe["output"]["images"] = "copy"  # image copies have their own temporary files
    path.write_text(yaml.safe_dump(recipe))
    return path


def _cmd(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "lingshu.cli.main", "data", "run", "--recipe", str(recipe)]


def outputs(out: Path) -> dict[str, bytes]:
    """Every file a run publishes (the work folder aside), by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".work" not in p.relative_to(out).parts}


def leftovers(out: Path) -> list[str]:
    return [str(p) for p in out.rglob("*") if p.name.endswith(".tmp") or
            (p.name.startswith(".") and p.name != ".work")]


def test_seeded_kill_9_schedule_then_rerun_equals_the_clean_run(tmp_path):
    clean = _recipe(tmp_path, "clean")
    start = time.monotonic()
    subprocess.run(_cmd(clean), check=True, capture_output=True, timeout=600)
    clean_s = time.monotonic() - start
    killed = _recipe(tmp_path, "killed")
    rng = random.Random(SEED)
    # kill points spread over the clean run's duration (process start included)
    delays = sorted(rng.uniform(0.3, 0.95) * clean_s for _ in range(KILLS))
    interrupted = 0
    for delay in delays:
        proc = subprocess.Popen(_cmd(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            interrupted += 1
    assert interrupted >= 1, (clean_s, delays)
    res = subprocess.run(_cmd(killed), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    got, want = outputs(tmp_path / "killed"), outputs(tmp_path / "clean")
    assert sorted(got) == sorted(want)
    differ = [name for name in want if got[name] != want[name].replace(b"clean", b"killed")]
    assert differ == []
    assert leftovers(tmp_path / "killed") == []


def test_a_rerun_removes_temporary_files_a_kill_left(tmp_path):
    """A kill between writing a temporary file and renaming it leaves ``.NAME.XXXX.tmp``
    (core.io) or ``.IMAGE.tmp`` (image copies); the next run removes them."""
    recipe = _recipe(tmp_path, "out")
    subprocess.run(_cmd(recipe), check=True, capture_output=True, timeout=600)
    out = tmp_path / "out"
    stale = [out / ".summary.json.0a1b2c3d4e5f.tmp", out / "data" / ".shard-00000.jsonl.99.tmp",
             out / "data" / "images" / ".abc.png.tmp", out / ".work" / ".done.json.1.tmp"]
    for p in stale:
        p.write_text("half")
    subprocess.run(_cmd(recipe), check=True, capture_output=True, timeout=600)
    assert [p for p in stale if p.exists()] == []
