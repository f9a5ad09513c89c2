"""Stage kinds: ``kind: sft | grpo`` in a recipe maps to a config model and a runner.

``sft`` is built in. ``grpo`` comes from :mod:`lingshu.train.grpo` (CONTRACTS §3): its
``GRPOStageConfig`` validates the stage and ``run_grpo_stage(config, *, model_path,
output_dir, seed, **common)`` runs it. Other packages may add kinds with
:func:`register_stage_kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from lingshu.core.errors import UserError
from lingshu.core.registry import Registry


@dataclass(frozen=True)
class StageKind:
    config_model: type[BaseModel]
    runner: Callable[..., Any]


STAGE_KINDS: Registry[StageKind] = Registry("stage kind")


def register_stage_kind(name: str, config_model: type[BaseModel], runner: Callable[..., Any]) -> None:
    STAGE_KINDS.add(name, StageKind(config_model, runner))


def _ensure_builtin() -> None:
    if "sft" not in STAGE_KINDS:
        from lingshu.train.recipe import SFTStageConfig
        from lingshu.train.sft import run_sft_stage

        register_stage_kind("sft", SFTStageConfig, run_sft_stage)
    if "grpo" not in STAGE_KINDS:
        from lingshu.train import grpo

        register_stage_kind("grpo", grpo.GRPOStageConfig, grpo.run_grpo_stage)


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
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required key is missing"
        raise ValueError(f"stages.{index}{'.' + loc if loc else ''}: {msg}") from None
    if "name" not in fields and "name" in raw:
        object.__setattr__(cfg, "stage_name", raw["name"])
    if "kind" not in fields:
        object.__setattr__(cfg, "stage_kind", kind)
    return cfg


def kind_of(stage: BaseModel) -> str:
    return getattr(stage, "kind", None) or getattr(stage, "stage_kind", "sft")
