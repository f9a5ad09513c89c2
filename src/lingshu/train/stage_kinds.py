"""Stage kinds: ``kind: sft | grpo`` in a recipe maps to a config model and a runner.

``sft`` is built in. ``grpo`` comes from :mod:`lingshu.train.grpo` (CONTRACTS §3): its
``GRPOStageConfig`` validates the stage and ``run_grpo_stage(config, *, model_path,
output_dir, seed, **common)`` runs it. While that package is absent, a placeholder model
with the paper's GRPO fields validates the stage (so recipes and dry runs work) and running
it says what is missing. Other packages may add kinds with :func:`register_stage_kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lingshu.core.errors import UserError
from lingshu.core.registry import Registry


@dataclass(frozen=True)
class StageKind:
    config_model: type[BaseModel]
    runner: Callable[..., Any]


STAGE_KINDS: Registry[StageKind] = Registry("stage kind")


def register_stage_kind(name: str, config_model: type[BaseModel], runner: Callable[..., Any]) -> None:
    STAGE_KINDS.add(name, StageKind(config_model, runner))


class PlaceholderGRPOStageConfig(BaseModel):
    """PLACEHOLDER until ``lingshu.train.grpo.GRPOStageConfig`` is merged: the GRPO values of
    the paper (BRIEF §2) and Med-R1, named as TRL's GRPOConfig names them."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="stage name")
    kind: Literal["grpo"] = Field("grpo", description="stage kind")
    data: list[dict[str, Any]] = Field(min_length=1, description="RL JSONL files ({path, ratio})")
    prompt_variant: Literal["thinking", "no_thinking"] = Field("no_thinking", description="Med-R1 prompt")
    rewards: dict[str, float] | str = Field(
        description="reward name -> weight, or a preset name (lingshu, med-r1-thinking, ...)"
    )
    learning_rate: float = Field(gt=0, lt=1, description="learning rate (paper: 1e-6)")
    num_generations: int = Field(ge=2, description="responses per prompt")
    beta: float = Field(ge=0, description="KL coefficient")
    kl_estimator: Literal["k1", "k3"] = Field("k3", description="KL estimator")
    loss_type: str = Field(description="TRL loss_type (grpo, dapo, dr_grpo, bnpo)")
    temperature: float = Field(gt=0, description="sampling temperature")
    max_prompt_length: int = Field(ge=1, description="prompt tokens")
    max_completion_length: int = Field(ge=1, description="completion tokens")
    global_batch: int = Field(ge=1, description="prompts x generations per optimizer step")
    rollout_batch: int = Field(ge=1, description="completions generated per rollout")
    epochs: float = Field(1.0, gt=0, description="passes over the RL data")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps (overrides epochs)")
    max_pixels: int | None = Field(None, ge=784, description="largest image area")
    seed: int | None = Field(None, description="stage seed (default: the recipe's)")


def _placeholder_runner(config: Any, **_: Any) -> Any:
    raise UserError(
        f"stage {config.name!r} is a grpo stage, but lingshu.train.grpo is not installed in this "
        "build; run the SFT stages (lingshu train ... --stages NAME) or install the full package"
    )


def _grpo_kind() -> StageKind:
    try:
        from lingshu.train import grpo  # type: ignore[attr-defined]

        return StageKind(grpo.GRPOStageConfig, grpo.run_grpo_stage)
    except (ImportError, AttributeError):
        return StageKind(PlaceholderGRPOStageConfig, _placeholder_runner)


def _ensure_builtin() -> None:
    if "sft" not in STAGE_KINDS:
        from lingshu.train.recipe import SFTStageConfig
        from lingshu.train.sft import run_sft_stage

        register_stage_kind("sft", SFTStageConfig, run_sft_stage)
    if "grpo" not in STAGE_KINDS:
        k = _grpo_kind()
        register_stage_kind("grpo", k.config_model, k.runner)


def get_stage_kind(name: str) -> StageKind:
    _ensure_builtin()
    return STAGE_KINDS.get(name)


def validate_stage(index: int, raw: Any) -> BaseModel:
    """Validate stage ``index`` by its kind's model. Keys the kind's model does not declare
    among the common ones (``name``, ``kind``) are handed over only if declared."""
    if isinstance(raw, BaseModel):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"stage {index}: expected a mapping")
    kind = raw.get("kind", "sft")
    try:
        sk = get_stage_kind(str(kind))
    except UserError as e:
        raise ValueError(f"stage {index}: {e}") from None
    fields = sk.config_model.model_fields
    data = {k: v for k, v in raw.items() if k in fields or k not in ("kind", "name")}
    try:
        cfg = sk.config_model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        raise ValueError(f"stages.{index}.{loc}: {msg}") from None
    if "name" not in fields and "name" in raw:
        object.__setattr__(cfg, "stage_name", raw["name"])
    if "kind" not in fields:
        object.__setattr__(cfg, "stage_kind", kind)
    return cfg


def kind_of(stage: BaseModel) -> str:
    return getattr(stage, "kind", None) or getattr(stage, "stage_kind", "sft")
