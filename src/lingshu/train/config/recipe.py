"""Typed training recipes: one YAML file describes a whole multi-stage run.

A recipe is validated completely (every stage, every data file's existence, the parallelism)
before any weights or data load, so a typo costs a second, not an hour of cluster time. Every
model forbids unknown keys; every field says what it means (``lingshu train recipes --fields``
prints them). Reading, ``key=value`` overrides and the one-line errors are the shared ones
of :mod:`lingshu.core.config`.

Stage entries carry ``kind``; each is validated by the model registered for its kind
(:mod:`lingshu.train.config.stage`). This module imports no training code: loading a
recipe costs no torch import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializeAsAny, field_validator

from lingshu.core.config import StrictModel, apply_overrides, read_yaml, validate
from lingshu.core.errors import UserError
from lingshu.train.config.data_paths import DataPathError, entry_files, missing_file
from lingshu.train.config.files import resolve_recipe_path
from lingshu.train.config.stage import StageConfig, validate_stage

#: The hint an unknown key's error gives (the CLI lists every key).
UNKNOWN_KEY_HINT = "check spelling; `lingshu train recipes --fields` lists the keys"

#: The paths resolved against the recipe's folder (``_resolve_paths``); given as overrides,
#: they are relative to the current folder (``lingshu.core.config.apply_overrides``).
PATH_KEYS = ("stages.*.data.*.path", "stages.*.eval.data_dir", "parallelism.accelerate_config")


class Parallelism(StrictModel):
    """How the run is spread; used by the dry run's memory estimate and the launch command."""

    strategy: Literal["single", "ddp", "fsdp", "deepspeed-zero3"] = Field(
        "single", description="data parallel flavour; zero3/fsdp shard params, grads and optimizer"
    )
    gpus_per_node: int = Field(1, ge=1, description="processes per node")
    nodes: int = Field(1, ge=1, description="nodes")
    accelerate_config: Path | None = Field(
        None, description="accelerate config file used with `accelerate launch` (checked by the dry run)"
    )

    @property
    def world_size(self) -> int:
        return self.gpus_per_node * self.nodes


class Recipe(StrictModel):
    """A multi-stage training run. Stage i+1 starts from stage i's exported model."""

    name: str = Field(description="recipe name")
    description: str = Field("", description="one paragraph: what this recipe trains")
    base_model: str = Field(
        description="model to start from: local folder, alias (lingshu-nano) or hub id"
    )
    architecture: str | None = Field(
        None,
        description="bundled config.json for offline dry runs (qwen2.5-vl-7b-instruct, "
        "qwen2.5-vl-32b-instruct, qwen2-vl-2b-instruct); default: read base_model's config",
    )
    output_dir: Path = Field(description="run directory; relative paths resolve against the CWD")
    seed: int = Field(0, description="seed for data order, initialisation and sampling")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "bf16", description="compute precision (master weights stay fp32); auto: bf16 where "
        "the GPU or CPU computes in it, else fp32 (lingshu.models.precision)"
    )
    parallelism: Parallelism = Field(default_factory=Parallelism, description="data parallelism")
    loggers: list[Literal["tensorboard", "wandb"]] = Field(
        default_factory=list, description="extra metric sinks, used when the package is installed"
    )
    stages: list[SerializeAsAny[StageConfig]] = Field(min_length=1, description="stages in order; each has kind: sft | grpo")

    @field_validator("stages", mode="before")
    @classmethod
    def _validate_stages(cls, v: Any) -> list[StageConfig]:
        if not isinstance(v, list):
            raise ValueError("stages must be a list")
        out = [validate_stage(i, s) for i, s in enumerate(v)]
        names = [s.name for s in out]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(sorted(dup))}")
        return out


# --------------------------------------------------------------------------- loading


def load_recipe(path: str | Path, overrides: list[str] | None = None, *, check_files: bool = True,
                override_base: Path | None = None) -> Recipe:
    """Read, override and validate a recipe (a file or a shipped name); every problem is a
    one-line ``UserError`` naming the file and the key. Relative paths in ``overrides``
    resolve against ``override_base`` (default: the current folder; the pipeline passes its
    recipe's folder for the overrides written there)."""
    path = resolve_recipe_path(path)
    data = apply_overrides(read_yaml(path, what="recipe"), overrides or [], paths=PATH_KEYS,
                           path_base=override_base)
    try:
        recipe = validate(Recipe, data, where=str(path), unknown_hint=UNKNOWN_KEY_HINT)
    except UserError as e:
        text = str(e)
        raise UserError(text if text.startswith(f"{path}:") else f"{path}: {text}") from None
    recipe = _resolve_paths(recipe, path.parent)
    if check_files:
        check_data_files(recipe, path)
    return recipe


def _resolve_paths(recipe: Recipe, base: Path) -> Recipe:
    """Relative data, evaluation and accelerate-config paths against the recipe's folder."""
    for stage in recipe.stages:
        for src in stage.data:
            if not Path(src.path).is_absolute():
                src.path = (base / src.path).resolve()
        ev = getattr(stage, "eval", None)
        if ev is not None and not ev.data_dir.is_absolute():
            ev.data_dir = (base / ev.data_dir).resolve()
    acc = recipe.parallelism.accelerate_config
    if acc is not None and not acc.is_absolute():
        recipe.parallelism.accelerate_config = (base / acc).resolve()
    return recipe


def check_data_files(recipe: Recipe, path: Path) -> None:
    """Every data entry names at least one file (a folder or pattern: ``data_paths``)."""
    for i, stage in enumerate(recipe.stages):
        for j, item in enumerate(stage.data):
            try:
                missing = [p for p in entry_files(item) if not p.is_file()]
                if missing:
                    raise missing_file(missing[0])
            except DataPathError as e:
                raise UserError(f"{path}: stages.{i}.data.{j}.path: {e}") from None


def field_docs(model: type[BaseModel] = Recipe, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, description) for every field, nested models expanded."""
    out: list[tuple[str, str]] = []
    for name, f in model.model_fields.items():
        out.append((prefix + name, f.description or ""))
        ann = f.annotation
        for sub in _submodels(ann):
            out.extend(field_docs(sub, prefix + name + "."))
    return out


def _submodels(ann: Any) -> list[type[BaseModel]]:
    import typing

    found = []
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    for a in typing.get_args(ann):
        found.extend(_submodels(a))
    return found
