"""``GRPOStageConfig``: every value of a GRPO stage, typed, documented, unknown keys rejected.

Defaults are Lingshu's stage 4 (paper §3, BRIEF §2): lr 1e-6, temperature 1.0, KL loss
coefficient 1e-3, 16 responses per prompt, rollout batch 512, global batch 128, max length
4096, reward = strict format 0.5 + accuracy 1.0. Med-R1's values (4 generations, beta 0.04,
max completion 256, format 1 + accuracy 1) are in the shipped ``med-r1`` recipe.

Every field is passed to TRL explicitly (``trl_args``): TRL 1.16's own defaults differ from
the papers' (``loss_type="dapo"``, ``beta=0.0``, 8 generations, max completion 512, BRIEF §6),
so relying on them would silently train another algorithm.

Batch sizes are counted the way the papers count them, in *prompts*: ``rollout_batch``
prompts are sampled per generation round (x ``num_generations`` completions each), and each
optimizer step uses ``global_batch`` prompts' groups, so one rollout feeds
``rollout_batch / global_batch`` optimizer steps (verl's train_batch_size /
ppo_mini_batch_size, which Lingshu's numbers follow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lingshu.core.config import StrictModel

from lingshu.train.grpo.prompts import GRPO_PROMPTS, LATEST_VERSION, PromptVariant
from lingshu.train.config import EvalSettings, StageConfig, register_stage_config
from lingshu.train.rewards import REWARDS, reward_preset


class RLDataSource(StrictModel):
    """One RL JSONL file (CONTRACTS.md point 2 rows with answer / question_type / options)."""

    path: Path = Field(description="JSONL file; relative paths resolve against the recipe's folder")
    ratio: float = Field(
        1.0, gt=0, description="share of the file used: 0.5 = a seeded half, 2.0 = every row twice"
    )


class GRPOStageConfig(StageConfig):
    """A GRPO stage (``kind: grpo`` in a recipe); run by ``run_grpo_stage``."""

    name: str = Field("grpo", description="stage name (folder of its outputs)")
    kind: Literal["grpo"] = Field("grpo", description="stage kind; always grpo here")
    data: list[RLDataSource] = Field(min_length=1, description="RL data files (prepared rows)")

    # What the model is asked and how it is paid
    prompt_variant: PromptVariant = Field(
        "no_thinking",
        description="Med-R1 prompt: thinking (<think> then <answer>) or no_thinking "
        "(<answer> only)",
    )
    prompt_version: int = Field(LATEST_VERSION, ge=1, description="version of the prompt wording")
    rewards: dict[str, float] | str = Field(
        "lingshu",
        description="reward name -> weight, or a preset name (lingshu, lingshu-thinking, "
        "med-r1-thinking, med-r1-no-thinking); `lingshu train rewards` lists names",
    )

    # The algorithm
    num_generations: int = Field(16, ge=2, description="completions sampled per prompt (paper 16)")
    beta: float = Field(1e-3, ge=0, description="KL loss coefficient (paper 1e-3; Med-R1 0.04)")
    kl_estimator: Literal["k3", "k3_unbiased"] = Field(
        "k3",
        description="k3 = original GRPO's per-token k3 estimator; k3_unbiased multiplies it by "
        "the importance ratio (DeepSeek-V3.2's unbiased reverse-KL gradient)",
    )
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = Field(
        "grpo",
        description="token-loss aggregation: grpo = mean per sequence (original GRPO); dapo = "
        "over all tokens of the global batch; dr_grpo = by a constant; bnpo = over local tokens",
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group",
        description="advantage = (r - group mean) / (std + 1e-4); group std is original GRPO",
    )
    epsilon: float = Field(0.2, gt=0, description="PPO-style clipping range of the ratio")
    num_iterations: int = Field(1, ge=1, description="policy updates per generated batch (mu)")
    mask_truncated_completions: bool = Field(
        False, description="leave completions cut at max_completion_length out of the loss"
    )

    # Sampling
    temperature: float = Field(1.0, gt=0, description="sampling temperature (paper 1.0)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling mass (1.0 = off)")
    max_prompt_length: int = Field(
        2048,
        ge=16,
        description="prompt tokens incl. image tokens; longer rows are skipped and counted "
        "(paper: 4096 in total for prompt + completion)",
    )
    max_completion_length: int = Field(
        2048, ge=1, description="generated tokens per completion (Med-R1 256)"
    )
    min_pixels: int | None = Field(None, ge=1, description="smallest image area after resizing")
    max_pixels: int | None = Field(
        None, ge=1, description="largest image area after resizing (Med-R1 ~384x384 = 147456)"
    )

    # Optimisation
    learning_rate: float = Field(1e-6, gt=0, lt=1, description="AdamW learning rate (paper 1e-6)")
    lr_scheduler: Literal["constant", "cosine", "linear"] = Field(
        "constant", description="schedule after warmup (the paper gives none: constant)"
    )
    warmup_steps: int = Field(0, ge=0, description="linear warmup steps")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping norm")
    global_batch: int = Field(128, ge=1, description="prompts per optimizer step (paper 128)")
    rollout_batch: int = Field(512, ge=1, description="prompts per generation round (paper 512)")
    per_device_batch: int = Field(
        16, ge=1, description="completions per device per forward/backward pass"
    )
    epochs: float = Field(1.0, gt=0, description="passes over the RL data (paper 1)")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; overrides epochs")
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto = the recipe's precision, else bf16 where the hardware "
        "computes in it, else fp32"
    )
    gradient_checkpointing: bool = Field(
        False,
        description="recompute each decoder layer's activations in backward: keeps only layer "
        "inputs (TRL's activation_checkpointing); needed at 7B/32B (docs/training-grpo.md)",
    )

    # Generation with vLLM (TRL 1.16's names; docs/training-grpo.md "GRPO at scale")
    use_vllm: bool = Field(
        False, description="generate completions with vLLM instead of transformers' generate "
        "(needs the vllm package and CUDA GPUs)"
    )
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate",
        description="colocate = a vLLM engine inside every training process, sharing its GPU; "
        "server = a separate `trl vllm-serve` on other GPUs",
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, lt=1,
        description="colocate: share of each GPU's memory vLLM reserves (weights + KV cache); "
        "TRL's default 0.3",
    )
    vllm_tensor_parallel_size: int = Field(
        1, ge=1,
        description="colocate: GPUs one vLLM engine spans (must divide the device count); "
        "server mode sets it on `trl vllm-serve` instead",
    )
    vllm_server_host: str = Field(
        "0.0.0.0", description="server: host of the `trl vllm-serve` process (TRL's default)"
    )
    vllm_server_port: int = Field(
        8000, ge=1, le=65535, description="server: port of the `trl vllm-serve` process"
    )
    save_steps: int | None = Field(
        None, ge=1, description="checkpoint every N optimizer steps (None: only at the end)"
    )
    seed: int | None = Field(None, description="stage seed (default: the run's seed)")
    eval: EvalSettings | None = Field(
        None, description="evaluation of final/ after the stage (benchmarks, data_dir, limit)"
    )

    @field_validator("rewards")
    @classmethod
    def _known_rewards(cls, value: dict[str, float] | str) -> dict[str, float] | str:
        weights = reward_preset(value) if isinstance(value, str) else value
        if not weights:
            raise ValueError("at least one reward is needed")
        for name in weights:
            if name not in REWARDS:
                raise ValueError(
                    f"unknown reward {name!r}; expected one of: {', '.join(REWARDS.names())}"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GRPOStageConfig:
        if f"{self.prompt_variant}/v{self.prompt_version}" not in GRPO_PROMPTS:
            raise ValueError(
                f"prompt_version {self.prompt_version} does not exist for {self.prompt_variant}"
            )
        if self.rollout_batch % self.global_batch:
            raise ValueError(
                f"rollout_batch {self.rollout_batch} must be a multiple of global_batch "
                f"{self.global_batch} (each rollout feeds whole optimizer steps)"
            )
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} exceeds max_pixels {self.max_pixels}")
        from lingshu.train.grpo.vllm import vllm_field_problem

        problem = vllm_field_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    def reward_weights(self) -> dict[str, float]:
        """The resolved ``{reward name: weight}`` (a preset name expanded)."""
        return reward_preset(self.rewards) if isinstance(self.rewards, str) else dict(self.rewards)

    def batch_plan(self, num_processes: int = 1) -> dict[str, int]:
        """TRL's batch arguments for ``num_processes`` devices, in completions.

        ``UserError`` when the prompt counts do not split evenly over the devices.
        """
        from lingshu.core.errors import UserError

        per_step = self.global_batch * self.num_generations
        per_pass = self.per_device_batch * num_processes
        if per_step % per_pass:
            raise UserError(
                f"stage {self.name!r}: global_batch x num_generations = {per_step} completions "
                f"is not a multiple of per_device_batch x devices = {per_pass}; change "
                "per_device_batch or global_batch"
            )
        grad_accum = per_step // per_pass
        return {
            "per_device_train_batch_size": self.per_device_batch,
            "gradient_accumulation_steps": grad_accum,
            "steps_per_generation": grad_accum * (self.rollout_batch // self.global_batch),
        }


register_stage_config("grpo", GRPOStageConfig)
