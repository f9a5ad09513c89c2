"""How a trained checkpoint is evaluated: one settings type for a stage's own ``eval:`` and
for the pipeline's evaluation after every stage (``lingshu.train.evaluate_checkpoint``).

A field left at ``None`` is not passed to the evaluation kit, so the kit's (or the hf
backend's) own default applies: the stage-level ``eval:`` always ran that way, and a recipe
written for it evaluates exactly as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from lingshu.core.config import StrictModel
from lingshu.models.loading import DType


class EvalBenchmark(StrictModel):
    """One benchmark of an evaluation (a bare name in YAML means every default)."""

    name: str = Field(description="registered benchmark (`lingshu benchmarks list`)")
    split: str | None = Field(None, description="split (default: the benchmark's first)")
    limit: int | None = Field(None, ge=1, description="first N samples")


class EvalSettings(StrictModel):
    """Evaluation of a checkpoint folder through the evaluation kit's ``hf`` backend."""

    benchmarks: list[EvalBenchmark] = Field(
        min_length=1, description="benchmarks in order: names, or {name, split, limit}")
    data_dir: Path = Field(description="benchmark data folder (as `lingshu eval run --data-dir`)")
    limit: int | None = Field(None, ge=1, description="first N samples of every benchmark "
                              "without its own limit")
    batch_size: int = Field(8, ge=1, description="hf backend batch size")
    max_new_tokens: int = Field(256, ge=1, description="generation budget per answer")
    profile: str | None = Field(None, description="prompt/scoring profile (default: the kit's, strict)")
    device: str | None = Field(None, description="hf backend device (default: the backend's)")
    dtype: DType | None = Field(None, description="weights' dtype (default: the backend's)")
    min_pixels: int | None = Field(None, ge=1, description="image area after resizing (as trained)")
    max_pixels: int | None = Field(None, ge=1, description="image area after resizing (as trained)")
    bootstrap_resamples: int | None = Field(None, ge=100, description="bootstrap resamples for "
                                            "CIs (default: the kit's)")

    @field_validator("benchmarks", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.benchmarks]
