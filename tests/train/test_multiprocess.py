"""``accelerate launch`` with 2 CPU processes (DDP over gloo) gives the same losses and the
same final weights as one process with the same global batch.

Tolerance: 1e-5 absolute on every step's loss and 1e-5 on every weight. The two runs add the
same per-token losses in a different order (one process pads two samples into a batch; two
processes each run one sample and all-reduce), so they agree to float32 rounding, not bits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lingshu.train.config import RECIPES_DIR

from _train_helpers import make_images, qwen_row, tiny_recipe, write_jsonl

TOL = 1e-5


def _losses(run: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate") is None and not Path(sys.executable).with_name("accelerate").exists(),
                    reason="accelerate CLI not installed")
def test_two_processes_equal_one(tiny_vl_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    make_images(tmp_path / "images")
    rows = [qwen_row(i, ["images/a.png", None, "images/b.png"][i % 3], f"Question {i}?", f"Answer {i}.")
            for i in range(16)]
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    # Stage-1 style (language model frozen): text-only micro-batches then reach no trainable
    # weight on one process while the other has an image, the case DDP cannot handle.
    common = dict(max_steps=3, checkpoint_every=100, parts={"vision": 1e-2, "merger": 1e-2, "llm": "frozen"},
                  grad_accum=2)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = tiny_recipe(tmp_path / "one", tiny_vl_dir, data, per_device_batch=2, **common)
    two = tiny_recipe(tmp_path / "two", tiny_vl_dir, data, per_device_batch=1, **common)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "lingshu.cli.main", "train", "--recipe", str(one)], check=True,
                   env=env, timeout=600, capture_output=True)
    accelerate = shutil.which("accelerate") or str(Path(sys.executable).with_name("accelerate"))
    r = subprocess.run([accelerate, "launch", "--config_file", str(RECIPES_DIR / "accelerate" / "cpu-2proc.yaml"),
                        "-m", "lingshu.cli.main", "train", "--recipe", str(two)],
                       env=env, timeout=600, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    run1, run2 = tmp_path / "one" / "run", tmp_path / "two" / "run"
    assert json.loads((run2 / "sft" / "summary.json").read_text())["world_size"] == 2
    l1, l2 = _losses(run1), _losses(run2)
    assert len(l1) == len(l2) == 3
    assert max(abs(a - b) for a, b in zip(l1, l2)) < TOL, (l1, l2)
    w1 = load_file(str(run1 / "sft" / "final" / "model.safetensors"))
    w2 = load_file(str(run2 / "sft" / "final" / "model.safetensors"))
    assert w1.keys() == w2.keys()
    worst = max(float((w1[k].float() - w2[k].float()).abs().max()) for k in w1)
    assert worst < TOL, worst
    base = load_file(str(tiny_vl_dir / "model.safetensors"))
    assert any(not torch.equal(base[k], w1[k]) for k in base)  # the runs did train
