"""A recipe with a `kind: grpo` stage runs through `lingshu train` (runner, run-level metrics
and plots, summary line) on the character-level toy model."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from grpo_helpers import qa_row, write_rows

BENCHMARKS = Path(__file__).resolve().parents[3] / "data" / "benchmarks"


@pytest.mark.slow
def test_lingshu_train_runs_a_grpo_stage(char_model: Path, tmp_path: Path) -> None:
    write_rows(tmp_path / "data" / "rl.jsonl", [qa_row(i) for i in range(4)])
    recipe = {
        "name": "grpo-only",
        "base_model": str(char_model),
        "output_dir": str(tmp_path / "run"),
        "seed": 0,
        "precision": "fp32",
        "stages": [{
            "name": "rl", "kind": "grpo", "data": [{"path": "data/rl.jsonl"}],  # recipe-relative
            "rewards": "lingshu", "num_generations": 2, "beta": 0.01, "learning_rate": 1e-3,
            "max_completion_length": 4, "max_prompt_length": 512, "global_batch": 2,
            "rollout_batch": 2, "per_device_batch": 4, "max_steps": 2,
            "eval": {"benchmarks": ["medqa-usmle"], "data_dir": str(BENCHMARKS), "limit": 2,
                     "batch_size": 2},
        }],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    r = subprocess.run([sys.executable, "-m", "lingshu.cli.main", "train", "--recipe", str(path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "rl: 2 steps" in r.stdout and "0 samples skipped" in r.stdout
    run = tmp_path / "run"
    assert (run / "rl" / "final" / "config.json").is_file()
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    grpo = [x for x in rows if x.get("stage") == "rl"]
    assert [x["global_step"] for x in grpo] == [1, 2, 2]  # two steps, then the evaluation
    assert all("reward/accuracy/mean" in x and "kl" in x for x in grpo[:2])
    # Evaluation of final/ after the stage, through the evaluation kit, as for SFT stages.
    summary = json.loads((run / "rl" / "summary.json").read_text())
    assert "medqa-usmle" in json.dumps(summary["eval"])
    assert any(k.startswith("eval/") for x in grpo for k in x)


@pytest.mark.slow
def test_grpo_stage_on_two_cpu_processes(char_model: Path, tmp_path: Path) -> None:
    """accelerate launch with 2 gloo processes: the batch plan splits per device, every rank
    takes part in the export, rank 0 writes final/ and the summary."""
    write_rows(tmp_path / "data" / "rl.jsonl", [qa_row(i) for i in range(8)])
    recipe = {
        "name": "mp", "base_model": str(char_model), "output_dir": str(tmp_path / "run"),
        "seed": 0, "precision": "fp32",
        "stages": [{
            "name": "rl", "kind": "grpo", "data": [{"path": "data/rl.jsonl"}], "rewards": "lingshu",
            "num_generations": 2, "beta": 0.01, "learning_rate": 1e-3, "max_completion_length": 4,
            "max_prompt_length": 512, "global_batch": 4, "rollout_batch": 4, "per_device_batch": 4,
            "max_steps": 2,
        }],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    config = files("lingshu.train") / "recipes" / "accelerate" / "cpu-2proc.yaml"
    r = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
         "-m", "lingshu.cli.main", "train", "--recipe", str(path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "rl" / "summary.json").read_text())
    assert summary["steps"] == 2
    assert (tmp_path / "run" / "rl" / "final" / "config.json").is_file()
    assert not (tmp_path / "run" / "rl" / ".final-tmp").exists()
