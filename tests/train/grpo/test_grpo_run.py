"""Short GRPO runs on CPU: the reward rises on a learnable task; the vision path, KL with a
reference model reloaded from disk, exclusions, metrics and plots all work."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grpo_helpers import qa_row, write_rows
from lingshu.train.grpo import GRPOStageConfig, run_grpo_stage
from lingshu.train.grpo.metrics import step_line
from lingshu.train.rewards import REWARDS, completion_text, register_reward

if "test_letter_share" not in REWARDS:

    @register_reward("test_letter_share")
    def letter_share(completions, answer, **_):
        """Test-only: share of completion characters equal to the gold letter."""
        out = []
        for c, gold in zip(completions, answer, strict=True):
            text = completion_text(c)
            out.append(sum(ch == gold[0] for ch in text) / max(len(text), 1))
        return out


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_mean_reward_rises_on_a_learnable_task(char_model: Path, tmp_path: Path, capfd) -> None:
    data = write_rows(tmp_path / "rl.jsonl", [qa_row(i) for i in range(8)])
    config = GRPOStageConfig(
        data=[{"path": "rl.jsonl"}],
        rewards={"test_letter_share": 1.0, "accuracy": 1.0},
        num_generations=4, beta=0.0, loss_type="grpo", learning_rate=3e-2,
        max_completion_length=8, max_prompt_length=512,
        global_batch=2, rollout_batch=2, per_device_batch=8, max_steps=24,
    )
    out = tmp_path / "run"
    result = run_grpo_stage(config, model_path=char_model, output_dir=out, seed=0,
                            base_dir=data.parent, device="cpu")
    final = result.model_path
    assert final == out / "final" and result.complete and result.summary["steps"] == 24
    summary = json.loads((out / "summary.json").read_text())
    records = _metrics(out)
    assert [r["step"] for r in records] == list(range(1, 25))
    first = sum(r["reward/test_letter_share/mean"] for r in records[:5]) / 5
    last = sum(r["reward/test_letter_share/mean"] for r in records[-5:]) / 5
    # Random policy over 25 symbols: ~0.04. Measured with seed 0: first five 0.033, last five 1.0.
    assert first < 0.2 and last > first + 0.5, (first, last)
    for key in ("reward/mean", "reward/std", "reward/accuracy/mean", "reward/accuracy/std",
                "format_compliance", "completion_length/mean", "learning_rate", "loss"):
        assert key in records[-1], key
    assert "kl" not in records[-1]  # beta = 0: no reference model, no KL
    assert summary["steps"] == 24 and summary["rows_kept"] == 8 and summary["excluded"] == 0
    assert isinstance(summary["final_loss"], float) and summary["final_reward"] > 0.5
    assert (out / "plots" / "rewards.png").stat().st_size > 1000
    assert (out / "plots" / "training.png").is_file()
    assert json.loads((out / "stage_config.json").read_text())["max_steps"] == 24
    # stderr is not a terminal here (a log file): one plain line a step, no Trainer bar, no
    # dump of log dicts
    said = capfd.readouterr()
    lines = [ln for ln in said.err.splitlines() if ln.startswith(f"{config.name} step ")]
    assert lines == [step_line(config.name, r["step"], 24, r) for r in records]
    assert not re.search(r"\d+/24 \[", said.err)  # the Trainer's bar ("5/24 [00:03<...")
    assert "{'loss'" not in said.out + said.err

    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(final)
    AutoTokenizer.from_pretrained(final)


def test_step_line_is_one_plain_line():
    record = {"reward/mean": 1.34375, "format_compliance": 0.9375, "step_time_s": 22.85, "loss": 0.0}
    assert step_line("stage4-grpo", 3, 6, record) == "stage4-grpo step 3/6 reward 1.344 format 0.94 22.9 s"
    assert step_line("grpo", 1, 2, {"reward/mean": 0.5}) == "grpo step 1/2 reward 0.500"


@pytest.mark.slow
def test_vision_rows_kl_reference_and_exclusions(tmp_path: Path) -> None:
    from PIL import Image

    from lingshu.models import build_tiny_qwen2_5_vl

    model = build_tiny_qwen2_5_vl(tmp_path / "tiny", seed=0)
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(2):
        Image.new("RGB", (56, 56), (40 * i, 90, 160)).save(tmp_path / "img" / f"{i}.png")
        rows.append(qa_row(i, image=f"img/{i}.png"))
    rows.append(qa_row(7, image="img/missing.png"))
    rows.append(qa_row(8, question="Why? " * 400))  # too long for max_prompt_length
    rows.append({"id": "no-answer", "messages": [{"role": "user", "content": "Q?"}]})
    data = write_rows(tmp_path / "rl.jsonl", rows)
    config = GRPOStageConfig(
        data=[{"path": str(data)}], rewards="lingshu", prompt_variant="no_thinking",
        num_generations=2, beta=0.04, learning_rate=1e-3, max_completion_length=4,
        max_prompt_length=256, global_batch=1, rollout_batch=1, per_device_batch=2, max_steps=2,
    )
    out = tmp_path / "run"
    final = run_grpo_stage(config, model_path=model, output_dir=out, seed=0, device="cpu").model_path
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows_kept"] == 2
    assert summary["rows_skipped_by_reason"] == {
        "image not found": 1, "prompt too long": 1, "missing or empty 'answer'": 1}
    excluded = [json.loads(x) for x in (out / "exclusions.jsonl").read_text().splitlines()]
    assert {e["line"] for e in excluded} == {3, 4, 5}
    records = _metrics(out)
    assert len(records) == 2
    assert all("kl" in r for r in records)  # beta > 0: reference model reloaded from the path
    assert "reward/format_no_thinking/mean" in records[0]
    from lingshu.models import load_model

    loaded = load_model(str(final))  # what lingshu eval / serve do with a stage's output
    assert loaded.kind == "qwen2_5_vl"


class _RunLog:
    """Stands in for the recipe runner's metrics log (write / truncate_after)."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        self.records.append(record)

    def truncate_after(self, stage: str, step: int) -> None:
        self.records = [r for r in self.records if not (r["stage"] == stage and r["step"] > step)]


def test_interrupted_stage_resumes_from_its_checkpoint(char_model: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "rl.jsonl", [qa_row(i) for i in range(4)])
    config = GRPOStageConfig(
        name="rl", data=[{"path": str(data)}], rewards={"test_letter_share": 1.0},
        num_generations=2, beta=0.0, learning_rate=1e-2, max_completion_length=4,
        max_prompt_length=512, global_batch=2, rollout_batch=2, per_device_batch=4, max_steps=4,
        save_steps=2,
    )
    out, run_log = tmp_path / "run", _RunLog()
    common = dict(model_path=char_model, output_dir=out, seed=0, device="cpu", metrics=run_log,
                  global_step_offset=100)
    stopped = run_grpo_stage(config, stop_after=2, **common)
    final = stopped.model_path
    assert not stopped.complete and not final.exists() and not (out / "summary.json").exists()
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    run_grpo_stage(config, **common)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"].endswith("checkpoint-2") and summary["steps"] == 4
    assert [r["step"] for r in _metrics(out)] == [1, 2, 3, 4]
    assert [(r["stage"], r["global_step"]) for r in run_log.records] == [
        ("rl", 101), ("rl", 102), ("rl", 103), ("rl", 104)]
    # A finished stage is not trained again.
    mtime = (out / "summary.json").stat().st_mtime
    assert run_grpo_stage(config, **common).model_path == final and final.is_dir()
    assert (out / "summary.json").stat().st_mtime == mtime


def test_bf16_on_cpu_trains_fp32_weights_so_small_steps_are_kept(char_model: Path, tmp_path: Path) -> None:
    """bf16 on the CPU is autocast over fp32 weights: at lr 1e-5 every weight with a gradient
    moves. Weights stored in bf16 would round each such step away (half a bf16 spacing of a
    weight of 0.02 is ~6e-5), leaving almost all of them unchanged: the control below."""
    import torch
    from safetensors.torch import load_file

    data = write_rows(tmp_path / "rl.jsonl", [qa_row(i) for i in range(4)])
    config = GRPOStageConfig(
        data=[{"path": "rl.jsonl"}], rewards={"test_letter_share": 1.0},
        num_generations=4, beta=0.0, loss_type="grpo", learning_rate=1e-5, precision="bf16",
        max_completion_length=8, max_prompt_length=512,
        global_batch=2, rollout_batch=2, per_device_batch=8, max_steps=2,
    )
    out = tmp_path / "run"
    final = run_grpo_stage(config, model_path=char_model, output_dir=out, seed=0,
                           base_dir=data.parent, device="cpu").model_path
    before = load_file(next(char_model.glob("*.safetensors")))
    after = load_file(next(final.glob("*.safetensors")))
    key = max((k for k in after if after[k].ndim == 2 and k in before), key=lambda k: after[k].numel())
    w0, w1 = before[key].float(), after[key]
    assert w1.dtype == torch.float32  # exported in the weights' dtype
    moved = ((w1 - w0).abs() > 0).float().mean().item()
    step = (w1 - w0).abs().max().item()
    assert moved > 0.5 and 1e-6 < step <= 2 * 1e-5 * 1.01, (moved, step)
    # control: the same two steps applied to bf16 storage leave almost every weight as it was
    stored = w0.to(torch.bfloat16) + (w1 - w0).to(torch.bfloat16)
    kept_in_bf16 = (stored == w0.to(torch.bfloat16)).float().mean().item()
    assert kept_in_bf16 > 0.9, kept_in_bf16


@pytest.mark.parametrize(
    ("deepspeed", "use_cpu", "dtype", "expected"),
    [
        ("true", False, "bfloat16", "bfloat16"),  # DeepSpeed casts itself, fp32 masters inside
        ("false", False, "bfloat16", "float32"),  # single GPU / DDP / FSDP: fp32 + autocast
        ("true", True, "bfloat16", "float32"),  # DeepSpeed's CPU accelerator: as the CPU
        ("false", True, "float32", "float32"),
    ],
)
def test_policy_weights_are_fp32_unless_deepspeed_keeps_the_masters(
    monkeypatch: pytest.MonkeyPatch, deepspeed: str, use_cpu: bool, dtype: str, expected: str
) -> None:
    from lingshu.train.grpo.stage import policy_dtype

    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", deepspeed)
    assert policy_dtype(dtype, use_cpu) == expected
