"""The whole pipeline on the tiny random Qwen2.5-VL and a handful of real samples.

The demo's own recipes (the `nano` pipeline recipe and its curation ops, four stages and
evaluation, src/lingshu/pipeline/recipes/) run with
the tiny model as base model, 3 images per source and 1-4 steps per stage. One test walks
through what a user does: a run killed with SIGKILL in the middle of stage 1 is resumed by
the same command (the finished steps come from the cache, stage 1 continues from its
checkpoint without repeating a step); a second identical run takes everything from the
cache; a change to stage 3 reruns stages 3 and 4 and their evaluations only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "src" / "lingshu" / "pipeline" / "recipes" / "nano.yaml"

pytestmark = [pytest.mark.timeout(2400), pytest.mark.skipif(
    not (REPO / "src" / "lingshu" / "train" / "stages").is_dir()
    or not (REPO / "src" / "lingshu" / "data" / "curate").is_dir(),
    reason="needs the training and curation areas",
)]


def _overrides(run: Path, tiny: Path) -> list[str]:
    stages = [
        f"base_model={tiny}", "precision=fp32",
        "stages.0.max_steps=4", "stages.0.per_device_batch=2", "stages.0.checkpoint_every=1",
        "stages.0.warmup_steps=1",
        "stages.1.max_steps=1", "stages.1.per_device_batch=2",
        "stages.2.max_steps=1", "stages.2.per_device_batch=1", "stages.2.max_length=512",
        "stages.3.max_steps=1", "stages.3.num_generations=2", "stages.3.global_batch=4",
        "stages.3.rollout_batch=4", "stages.3.per_device_batch=4", "stages.3.max_completion_length=4", "stages.3.precision=fp32",
    ]
    for p in ("min_pixels", "max_pixels"):
        stages += [f"stages.{i}.{p}=3136" for i in range(4)]
    return [
        f"output_dir={run}", f"final_model={run / 'final'}", f"data_root={REPO / 'data'}",
        "raw.limit_per_source=3",
        "training_overrides=" + json.dumps(stages),
        "evaluation.benchmarks=" + json.dumps([{"name": "lingshu-demo", "limit": 4},
                                               {"name": "mmlu-med", "split": "val", "limit": 2}]),
        "evaluation.batch_size=4", "evaluation.max_new_tokens=4",
        "evaluation.min_pixels=3136", "evaluation.max_pixels=3136",
        "evaluation.bootstrap_resamples=100",
    ]


def _cmd(run: Path, tiny: Path, extra: list[str] = ()) -> list[str]:
    args = [sys.executable, "-m", "lingshu.cli.main", "pipeline", "--recipe", str(RECIPE), "-q"]
    for o in [*_overrides(run, tiny), *extra]:
        args += ["--set", o]
    return args


def _steps(run: Path) -> dict[str, bool]:
    return {s["step"]: s["cached"] for s in json.loads((run / "report.json").read_text())["steps"]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from lingshu.models import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny") / "model")


def test_pipeline_kill_resume_cache_and_change(tmp_path, tiny):
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen(_cmd(run, tiny), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ckpts = run / "stage-stage1-shallow-alignment" / "checkpoints"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if ckpts.is_dir() and any(ckpts.glob("step-*")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "stage-stage1-shallow-alignment" / ".done.json").exists()

    out = subprocess.run(_cmd(run, tiny), env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    steps = _steps(run)
    assert steps["raw"] and steps["curate"] and steps["data"] and steps["eval-base"]  # from the cache
    assert not steps["stage-stage1-shallow-alignment"]
    assert "[resume] stage-stage1-shallow-alignment" in out.stdout
    curve = [json.loads(x) for x in (run / "stage-stage1-shallow-alignment" / "train_metrics.jsonl")
             .read_text().splitlines()]
    assert [r["step"] for r in curve] == [1, 2, 3, 4]  # resumed: no step repeated or lost
    assert (run / "final" / "config.json").is_file()
    assert (run / "report.png").stat().st_size > 10_000
    report = json.loads((run / "report.json").read_text())
    assert [p["label"] for p in report["points"]] == [
        "base", "stage1-shallow-alignment", "stage2-deep-alignment",
        "stage3-instruction-tuning", "stage4-grpo"]
    leak = report["data"]["leak_check"]
    assert leak["train_images"] > 0 and leak["closest_distance"] > leak["max_distance"]
    excl = (run / "curate" / "exclusions.jsonl").read_text()
    assert "lingshu-demo" in excl  # held-out images reached curation and were removed
    assert "lingshu serve --model" in out.stdout and "lingshu eval run" in out.stdout

    again = subprocess.run(_cmd(run, tiny), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert all(_steps(run).values())  # everything from the cache

    changed = subprocess.run(_cmd(run, tiny, ["stage_data.stage3-instruction-tuning.repeat=2"]),
                             env=env, capture_output=True, text=True, timeout=900)
    assert changed.returncode == 0, changed.stdout[-3000:] + changed.stderr[-3000:]
    steps = _steps(run)
    assert {k for k, cached in steps.items() if not cached} == {
        "data", "stage-stage3-instruction-tuning", "eval-stage3-instruction-tuning",
        "stage-stage4-grpo", "eval-stage4-grpo", "final"}
