"""The Med-R1 recipes load and carry Med-R1's training values (its README's GRPO command on
TRL 0.14, BRIEF §2), and give TRL 1.16 the same batch arithmetic: 4 prompts per optimizer
step = 1 prompt per device x 2 GPUs x accumulation 2, 4 completions per prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingshu.train import load_recipe
from lingshu.train.grpo.stage import trl_args


@pytest.mark.parametrize(("name", "variant", "format_reward"), [
    ("med-r1", "thinking", "format_thinking"),
    ("med-r1-nothink", "no_thinking", "format_no_thinking"),
])
def test_medr1_recipe_values(name: str, variant: str, format_reward: str, tmp_path: Path) -> None:
    r = load_recipe(name, check_files=False)
    assert r.base_model == "Qwen/Qwen2-VL-2B-Instruct" and r.precision == "bf16"
    assert (r.parallelism.strategy, r.parallelism.world_size) == ("ddp", 2)  # torchrun, 2 GPUs
    (st,) = r.stages
    assert st.prompt_variant == variant
    assert st.reward_weights() == {format_reward: 1.0, "accuracy": 1.0}
    assert (st.num_generations, st.beta, st.learning_rate) == (4, 0.04, 1e-6)
    assert (st.lr_scheduler, st.warmup_steps, st.epochs) == ("linear", 0, 2)
    assert (st.max_prompt_length, st.max_completion_length, st.temperature) == (1024, 256, 1.0)
    assert (st.global_batch, st.rollout_batch, st.per_device_batch) == (4, 4, 4)
    assert (st.loss_type, st.kl_estimator, st.scale_rewards, st.num_iterations) == ("grpo", "k3", "group", 1)
    assert st.gradient_checkpointing is False and st.use_vllm is False
    assert st.max_pixels == 384 * 384

    args = trl_args(st, output_dir=tmp_path, seed=r.seed, use_cpu=True,
                    num_processes=r.parallelism.world_size)
    # Med-R1: per_device_train_batch_size 1 prompt (x 4 generations = 4 completions per pass),
    # gradient_accumulation_steps 2; generation once per optimizer step (on-policy)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (4, 2)
    assert args.steps_per_generation == 2
    assert (args.lr_scheduler_type, args.num_train_epochs, args.beta) == ("linear", 2, 0.04)
    assert (args.learning_rate, args.max_completion_length, args.num_generations) == (1e-6, 256, 4)
