"""The supervised stage's config (Lingshu stages 1-3): data mixture, what trains at which
learning rate, packing, augmentation, embedding alignment, optimizer and schedule.

Values that come from the paper cite it: Lingshu (arXiv 2506.07044) §3 / Table 5, summarised
in BRIEF §2. Every model forbids unknown keys; every field says what it means (``lingshu
train recipes --fields`` prints them).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from lingshu.core.config import StrictModel
from lingshu.train.config.data_paths import expand_data_path
from lingshu.train.config.evaluation import EvalSettings
from lingshu.train.config.stage import StageConfig, register_stage_config

PartName = Literal["vision", "merger", "llm"]
PARTS: tuple[str, ...] = ("vision", "merger", "llm")
Frozen = Literal["frozen"]


class DataSource(StrictModel):
    """One entry of the stage's data mixture (CONTRACTS §2 formats): a JSONL, parquet
    (``.parquet``) or WebDataset (``.tar``) file, or a folder or glob pattern of them
    (``config/data_paths``). A folder or pattern trains exactly as its files listed by hand,
    each with this entry's ``format`` and ``ratio``: ``ratio`` is a share of rows, so a seeded
    share of each file is that share of the whole entry (within a row per file of rounding),
    and a folder trains exactly as its files written out (docs/training.md). ``samples``
    counts the whole entry (a dry run of data elsewhere)."""

    path: Path = Field(description="JSONL file, .parquet file or WebDataset .tar shard; or a folder "
                       "(its .jsonl/.parquet/.tar files, sorted by name; other files skipped) or a glob "
                       "pattern (shards/*.parquet, out/**/*.jsonl; matches sorted by path); relative "
                       "paths resolve against the recipe's folder")
    format: Literal["auto", "qwen", "llava", "sharegpt"] = Field(
        "auto", description="conversation style; auto detects it per row"
    )
    ratio: float = Field(
        1.0,
        gt=0,
        allow_inf_nan=False,  # inf passed gt=0 and overflowed when rows were counted (#22)
        description="share of the file used per epoch: 0.5 = a seeded half, 2.0 = every row twice",
    )
    samples: int | None = Field(
        None, ge=1, description="expected rows of the whole entry, for dry runs of data not on this "
        "machine (paper sizes)"
    )

    def files(self) -> list[Path]:
        """The files this entry stands for, in reading order (``DataPathError`` if none)."""
        return expand_data_path(self.path)


class OptimizerConfig(StrictModel):
    """AdamW (the paper's optimizer for stages 1-3)."""

    name: Literal["adamw"] = Field("adamw", description="optimizer; AdamW as in the paper")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (not on biases/norms)")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas")
    eps: float = Field(1e-8, gt=0, description="Adam epsilon")


class LoRAConfig(StrictModel):
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


class ImageAugment(StrictModel):
    """What a stage does to its training images each step (``augment:`` in a stage)."""

    crop: float = Field(1.0, gt=0.0, le=1.0, description="random crop keeping at least this "
                        "fraction of each side (1.0: no crop), resized back to the image's size")
    flip: bool = Field(False, description="mirror left-right half of the time (leave off where "
                       "laterality matters: 'left lung' questions)")
    zoom_out: float = Field(1.0, gt=0.0, le=1.0, description="shrink the image to a random "
                            "fraction in [zoom_out, 1] of each side and place it at a random "
                            "position on a black canvas of its size (1.0: off): scale jitter, "
                            "for an organ that fills the frame in one source and sits small "
                            "on black in another")
    contrast: float = Field(0.0, ge=0.0, lt=1.0, description="scale the contrast by a random "
                            "factor in [1 - contrast, 1 + contrast] (0: off)")

    @property
    def active(self) -> bool:
        return self.crop < 1.0 or self.flip or self.zoom_out < 1.0 or self.contrast > 0.0


class EmbeddingAlignment(StrictModel):
    """``embedding_alignment:`` in an SFT stage (see ``lingshu.train.embed_align``)."""

    epochs: int = Field(0, ge=0, description="passes over the stage's image samples before its "
                        "first language-model step (0: off)")
    temperature: float = Field(0.05, gt=0, le=1, description="softmax temperature of the cosine "
                               "similarities")
    batch: int = Field(16, ge=1, description="images per optimizer step")
    warmup_steps: int = Field(20, ge=0, description="linear warmup steps, then cosine decay to 0")

    @property
    def active(self) -> bool:
        return self.epochs > 0


class SFTStageConfig(StageConfig):
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
                                  "view each step (train/data/augment.py)")
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
    data_workers: int | None = Field(
        None, ge=0, description="DataLoader worker processes per rank that read and encode samples "
        "ahead of the loop (0: in the training process); default: the rank's share of the CPUs less one, at most 8. "
        "A cold start's length pass over data of 16 MiB or more runs in this many processes plus the rank itself "
        "(train/data/index_pool.py; 0: in the training process alone)")
    checkpoint_every: int = Field(500, ge=1, description="optimizer steps between checkpoints")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept (oldest deleted)")
    log_every: int = Field(1, ge=1, description="optimizer steps between metric lines")
    eval: EvalSettings | None = Field(None, description="evaluation of final/ after the stage")

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



register_stage_config("sft", SFTStageConfig)


def total_steps(n_units: int, stage: SFTStageConfig, world_size: int) -> int:
    """Optimizer steps of an SFT stage with ``n_units`` sequences (samples or packs)."""
    if stage.max_steps is not None:
        return stage.max_steps
    per_step = stage.per_device_batch * stage.grad_accum * world_size
    return max(1, math.ceil(n_units * float(stage.epochs or 1) / per_step))
