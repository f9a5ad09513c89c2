"""Typed training recipes: one YAML file describes a whole multi-stage run.

A recipe is validated completely (every stage, every data file's existence, the parallelism)
before any weights or data load, so a typo costs a second, not an hour of cluster time. Every
model forbids unknown keys; every field says what it means (``lingshu train recipes --fields``
prints them). Values that come from the paper cite it: Lingshu (arXiv 2506.07044) §3 /
Table 5, summarised in BRIEF §2.

Stage entries carry ``kind``: ``sft`` stages are validated here (:class:`SFTStageConfig`);
other kinds (``grpo``) are validated by the model their package registers (see
:mod:`lingshu.train.stage_kinds`).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lingshu.core.errors import UserError
from lingshu.train.augment import ImageAugment
from lingshu.train.embed_align import EmbeddingAlignment

PartName = Literal["vision", "merger", "llm"]
PARTS: tuple[str, ...] = ("vision", "merger", "llm")
Frozen = Literal["frozen"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSource(_Strict):
    """One JSONL file of the stage's data mixture (CONTRACTS §2 formats)."""

    path: Path = Field(description="JSONL file; relative paths resolve against the recipe's folder")
    format: Literal["auto", "qwen", "llava", "sharegpt"] = Field(
        "auto", description="conversation style; auto detects it per row"
    )
    ratio: float = Field(
        1.0,
        gt=0,
        description="share of the file used per epoch: 0.5 = a seeded half, 2.0 = every row twice",
    )
    samples: int | None = Field(
        None, ge=1, description="expected rows, for dry runs of data not on this machine (paper sizes)"
    )


class OptimizerConfig(_Strict):
    """AdamW (the paper's optimizer for stages 1-3)."""

    name: Literal["adamw"] = Field("adamw", description="optimizer; AdamW as in the paper")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (not on biases/norms)")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas")
    eps: float = Field(1e-8, gt=0, description="Adam epsilon")


class LoRAConfig(_Strict):
    """Optional LoRA through PEFT. The default target is the language model only: Qwen2.5-VL's
    vision blocks also have gate/up/down_proj (BRIEF §6), so modules are chosen by path."""

    r: int = Field(16, ge=1, description="LoRA rank")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / r)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA input")
    target_regex: str = Field(
        r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
        description="regex on full module paths (PEFT target_modules as a string)",
    )
    merge_on_export: bool = Field(
        True, description="write merged full weights to final/ (adapter also kept in final-adapter/)"
    )


class EvalAfter(_Strict):
    """Evaluation after the stage through the evaluation kit (hf backend)."""

    benchmarks: list[str] = Field(min_length=1, description="benchmark names (`lingshu benchmarks list`)")
    data_dir: Path = Field(description="benchmark data folder (as `lingshu eval run --data-dir`)")
    limit: int | None = Field(None, ge=1, description="first N samples per benchmark")
    batch_size: int = Field(8, ge=1, description="hf backend batch size")
    max_new_tokens: int = Field(256, ge=1, description="generation budget per answer")


class SFTStageConfig(_Strict):
    """A supervised stage (Lingshu stages 1-3): next-token loss on assistant tokens only."""

    name: str = Field(description="stage name; its outputs go to <output_dir>/<name>/")
    kind: Literal["sft"] = Field("sft", description="stage kind")
    data: list[DataSource] = Field(min_length=1, description="data mixture")
    parts: dict[PartName, float | Frozen] = Field(
        description="learning rate per part (vision tower, merger, language model) or 'frozen'"
    )
    epochs: float | None = Field(None, gt=0, description="passes over the data (or set max_steps)")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps (overrides epochs)")
    max_length: int = Field(8192, ge=16, description="tokens per sample; longer samples are excluded")
    packing: bool = Field(False, description="pack several samples per sequence (stage 3)")
    augment: ImageAugment = Field(default_factory=ImageAugment, description="random crops, "
                                  "mirroring, zoom-out and contrast of training images, a new "
                                  "view each step (train/augment.py)")
    embedding_alignment: EmbeddingAlignment = Field(
        default_factory=EmbeddingAlignment, description="before the first step, align the "
        "vision tower / merger with the language model's input embeddings of the caption words "
        "(train/embed_align.py; no language-model layer runs)")
    group_by_length: bool = Field(
        False, description="batch samples (or packs) of similar length together: less padding, "
        "same data per epoch; where length follows the answer (short templated answers), a step "
        "then holds mostly one answer")
    per_device_batch: int = Field(1, ge=1, description="sequences (packs) per device per micro-step")
    grad_accum: int = Field(8, ge=1, description="micro-steps per optimizer step")
    warmup_steps: int = Field(100, ge=0, description="linear warmup steps")
    scheduler: Literal["cosine", "linear", "constant"] = Field("cosine", description="LR schedule after warmup")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, description="optimizer")
    max_grad_norm: float | None = Field(1.0, gt=0, description="gradient clipping (None = off)")
    gradient_checkpointing: bool = Field(False, description="recompute activations in backward")
    lora: LoRAConfig | None = Field(None, description="LoRA on the language model instead of full tuning")
    min_pixels: int = Field(28 * 28 * 4, ge=28 * 28, description="smallest image area after resizing")
    max_pixels: int = Field(28 * 28 * 1280, ge=28 * 28, description="largest image area after resizing")
    checkpoint_every: int = Field(500, ge=1, description="optimizer steps between checkpoints")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept (oldest deleted)")
    log_every: int = Field(1, ge=1, description="optimizer steps between metric lines")
    eval: EvalAfter | None = Field(None, description="evaluation after the stage")

    @model_validator(mode="after")
    def _check(self) -> SFTStageConfig:
        if self.epochs is None and self.max_steps is None:
            raise ValueError("set epochs or max_steps (max_steps wins when both are set)")
        missing = [p for p in PARTS if p not in self.parts]
        if missing:
            raise ValueError(f"parts: give a learning rate or 'frozen' for {', '.join(missing)}")
        for part, lr in self.parts.items():
            if lr != "frozen" and not (0 < float(lr) < 1):
                raise ValueError(f"parts.{part}: learning rate {lr} is not in (0, 1)")
        if all(v == "frozen" for v in self.parts.values()) and self.lora is None:
            raise ValueError("parts: every part is frozen, nothing would train")
        if self.lora is not None and self.parts.get("llm") == "frozen":
            raise ValueError("lora trains the language model: give parts.llm a learning rate")
        if self.embedding_alignment.active and self.parts.get("vision") == "frozen" \
                and self.parts.get("merger") == "frozen":
            raise ValueError("embedding_alignment trains the vision tower or the merger: give "
                             "parts.vision or parts.merger a learning rate")
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} exceeds max_pixels {self.max_pixels}")
        return self

    def lr_of(self, part: str) -> float | None:
        v = self.parts[part]  # type: ignore[index]
        return None if v == "frozen" else float(v)


class Parallelism(_Strict):
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


class Recipe(_Strict):
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
    stages: list[Any] = Field(min_length=1, description="stages in order; each has kind: sft | grpo")

    @field_validator("stages", mode="before")
    @classmethod
    def _validate_stages(cls, v: Any) -> list[Any]:
        from lingshu.train.stage_kinds import validate_stage

        if not isinstance(v, list):
            raise ValueError("stages must be a list")
        out = [validate_stage(i, s) for i, s in enumerate(v)]
        names = [stage_name(s) for s in out]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(sorted(dup))}")
        return out


def stage_name(stage: Any) -> str:
    return getattr(stage, "name", None) or getattr(stage, "stage_name", "stage")


# --------------------------------------------------------------------------- loading


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``key.sub=value`` (YAML value) into a copy of ``data``. A stage is addressed by its
    index or its name: ``stages.0.max_steps=5`` or ``stages.stage1.max_steps=5``."""
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override {item!r}: expected key=value, e.g. stages.0.max_steps=10")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        node: Any = data
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                idx = _stage_index(node, p, key)
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[p] = value
                else:
                    node = node.setdefault(p, {})
            else:
                raise UserError(f"override {key!r}: {'.'.join(parts[:i])} is not a mapping or list")
    return data


def _stage_index(items: list, p: str, key: str) -> int:
    if p.lstrip("-").isdigit():
        idx = int(p)
        if not -len(items) <= idx < len(items):
            raise UserError(f"override {key!r}: index {idx} out of range (0..{len(items) - 1})")
        return idx
    for i, it in enumerate(items):
        if isinstance(it, dict) and it.get("name") == p:
            return i
    names = [it.get("name") for it in items if isinstance(it, dict)]
    raise UserError(f"override {key!r}: no stage named {p!r}; stages: {names}")


def _format_error(path: Path, err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
    msg = e["msg"]
    if e["type"] == "extra_forbidden":
        msg = "unknown key (check spelling; `lingshu train recipes --fields` lists the keys)"
    elif e["type"] == "missing":
        msg = "required key is missing"
    msg = msg.removeprefix("Value error, ")
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    if msg.startswith(loc + "."):  # stage errors already carry their full location
        return f"{path}: {msg}{more}"
    return f"{path}: {loc}: {msg}{more}"


def load_recipe(path: str | Path, overrides: list[str] | None = None, *, check_files: bool = True) -> Recipe:
    """Read, override and validate a recipe; every problem is a one-line ``UserError``."""
    from lingshu.train.recipe_files import resolve_recipe_path

    path = resolve_recipe_path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}:{where} is not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of recipe keys at the top level")
    data = apply_overrides(data, overrides or [])
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        raise UserError(_format_error(path, e)) from None
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
    recipe = _resolve_paths(recipe, path.parent)
    if check_files:
        check_data_files(recipe, path)
    return recipe


def data_paths(stage: Any) -> list[Path]:
    """The data files of any stage kind: items with ``path``, ``{"path": ...}`` or strings."""
    out = []
    data = getattr(stage, "data", None) or []
    for src in data if isinstance(data, list) else [data]:
        p = getattr(src, "path", None) or (src.get("path") if isinstance(src, dict) else src)
        if isinstance(p, (str, Path)):
            out.append(Path(p))
    return out


def _resolve_paths(recipe: Recipe, base: Path) -> Recipe:
    for stage in recipe.stages:
        data = getattr(stage, "data", None) or []
        for k, src in enumerate(data if isinstance(data, list) else []):
            if hasattr(src, "path") and not Path(src.path).is_absolute():
                src.path = (base / src.path).resolve()
            elif isinstance(src, dict) and isinstance(src.get("path"), str) and not Path(src["path"]).is_absolute():
                src["path"] = str((base / src["path"]).resolve())
            elif isinstance(src, str) and not Path(src).is_absolute():
                data[k] = str((base / src).resolve())
        ev = getattr(stage, "eval", None)
        if ev is not None and not ev.data_dir.is_absolute():
            ev.data_dir = (base / ev.data_dir).resolve()
    acc = recipe.parallelism.accelerate_config
    if acc is not None and not acc.is_absolute():
        recipe.parallelism.accelerate_config = (base / acc).resolve()
    return recipe


def check_data_files(recipe: Recipe, path: Path) -> None:
    for i, stage in enumerate(recipe.stages):
        for j, p in enumerate(data_paths(stage)):
            if not p.is_file():
                raise UserError(
                    f"{path}: stages.{i}.data.{j}.path: file {p} does not exist; "
                    "fix the path (relative paths resolve against the recipe's folder)"
                )


def total_steps(n_units: int, stage: SFTStageConfig, world_size: int) -> int:
    """Optimizer steps of an SFT stage with ``n_units`` sequences (samples or packs)."""
    if stage.max_steps is not None:
        return stage.max_steps
    per_step = stage.per_device_batch * stage.grad_accum * world_size
    return max(1, math.ceil(n_units * float(stage.epochs or 1) / per_step))


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
