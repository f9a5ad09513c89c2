"""GRPOStageConfig: paper defaults, strict validation, and every value reaching TRL explicitly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lingshu.core.errors import UserError
from lingshu.train.grpo import GRPO_PROMPTS, GRPOStageConfig, get_prompt
from lingshu.train.grpo.stage import reward_functions, trl_args

DATA = [{"path": "rl.jsonl"}]


def test_defaults_are_lingshu_stage_4() -> None:
    c = GRPOStageConfig(data=DATA)
    # BRIEF §2 / paper Table 5: lr 1e-6, temperature 1.0, KL 1e-3, 16 responses,
    # rollout 512, global 128, format 0.5 + accuracy 1.0.
    assert (c.learning_rate, c.temperature, c.beta, c.num_generations) == (1e-6, 1.0, 1e-3, 16)
    assert (c.rollout_batch, c.global_batch) == (512, 128)
    assert c.reward_weights() == {"format_no_thinking": 0.5, "accuracy": 1.0}


def test_every_value_is_passed_to_trl_not_its_changed_defaults(tmp_path) -> None:
    from trl import GRPOConfig

    c = GRPOStageConfig(data=DATA, per_device_batch=16, max_completion_length=256,
                        kl_estimator="k3", epochs=1)
    args = trl_args(c, output_dir=tmp_path, seed=3, use_cpu=True, num_processes=8)
    trl_default = GRPOConfig(output_dir=str(tmp_path), use_cpu=True)
    # TRL 1.16's defaults (BRIEF §6) differ from the paper's: ours must win.
    assert trl_default.loss_type == "dapo"
    assert (trl_default.beta, trl_default.num_generations) == (0.0, 8)
    assert trl_default.max_completion_length == 512
    assert (args.loss_type, args.beta, args.num_generations) == ("grpo", 1e-3, 16)
    assert args.max_completion_length == 256
    assert args.use_bias_correction_kl is False  # plain k3, as original GRPO
    assert (args.learning_rate, args.temperature, args.seed) == (1e-6, 1.0, 3)
    # 128 prompts x 16 completions = 2048 per step = 16 per device x 8 devices x 16 accumulation;
    # a rollout of 512 prompts feeds 4 optimizer steps = 64 micro-steps.
    assert args.per_device_train_batch_size == 16
    assert args.gradient_accumulation_steps == 16
    assert args.steps_per_generation == 64


def test_rewards_get_their_weights_and_a_zero_weight_compliance_monitor() -> None:
    c = GRPOStageConfig(data=DATA, rewards="med-r1-thinking", prompt_variant="thinking")
    funcs, weights = reward_functions(c)
    assert [f.__name__ for f in funcs] == ["format_thinking", "accuracy", "format_compliance"]
    assert weights == [1.0, 1.0, 0.0]
    assert funcs[-1](["<think>x</think><answer>B</answer>", "<answer>B</answer>"]) == [1.0, 0.0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"num_generation": 4}, "Extra inputs are not permitted"),
        ({"rewards": {"acuracy": 1.0}}, "unknown reward 'acuracy'"),
        ({"rewards": "lingshu-7b"}, "unknown reward preset"),
        ({"rewards": {}}, "at least one reward"),
        ({"rollout_batch": 100, "global_batch": 64}, "multiple of global_batch"),
        ({"prompt_version": 9}, "prompt_version 9 does not exist"),
        ({"loss_type": "ppo"}, "loss_type"),
        ({"num_generations": 1}, "num_generations"),
        ({"learning_rate": "fast"}, "learning_rate"),
    ],
)
def test_bad_values_are_rejected(extra: dict, message: str) -> None:
    with pytest.raises((ValidationError, UserError), match=message):
        GRPOStageConfig(data=DATA, **extra)


def test_batch_plan_that_does_not_divide_is_a_user_error() -> None:
    c = GRPOStageConfig(data=DATA, global_batch=3, rollout_batch=3, num_generations=2,
                        per_device_batch=4)
    with pytest.raises(UserError, match="per_device_batch"):
        c.batch_plan(1)


def test_prompts_are_versioned_and_ask_for_what_the_format_reward_checks() -> None:
    assert set(GRPO_PROMPTS.names()) == {"thinking/v1", "no_thinking/v1"}
    thinking = get_prompt("thinking").render("Which organ?\nA. Liver\nB. Lung")
    assert thinking.startswith("Which organ?\nA. Liver\nB. Lung\n")
    assert "<think>" in thinking and "<answer>" in thinking
    no_thinking = get_prompt("no_thinking").render("Which organ?")
    assert "<answer>" in no_thinking and "<think>" not in no_thinking
    assert get_prompt("no_thinking").format_reward == "format_no_thinking"


def test_resumed_run_drops_metrics_after_the_checkpoint(tmp_path) -> None:
    import json

    from lingshu.train.grpo.metrics import keep_metrics_until, translate_logs

    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 8)))
    keep_metrics_until(path, 4)
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [1, 2, 3, 4]
    logs = {"reward": 0.5, "rewards/accuracy/mean": 0.25, "rewards/format_compliance/mean": 0.75,
            "rewards/format_compliance/std": 0.1, "completions/mean_length": 7.0, "kl": 0.01,
            "learning_rate": 1e-6, "step_time": 3.0, "note": "text"}
    assert translate_logs(logs) == {
        "reward/mean": 0.5, "reward/accuracy/mean": 0.25, "format_compliance": 0.75,
        "completion_length/mean": 7.0, "kl": 0.01, "learning_rate": 1e-6, "step_time_s": 3.0}


def test_docs_describe_every_field() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "training-grpo.md").read_text()
    for name in GRPOStageConfig.model_fields:
        assert f"| `{name}` |" in doc, name
