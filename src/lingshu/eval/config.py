"""The typed configuration of an evaluation run (unknown keys are errors).

The CLI builds an ``EvalConfig`` from its options (or ``--config FILE.yaml``); the resolved
config is saved as ``config.json`` in the run directory and is what ``--resume`` and
``merge`` compare.

``generation`` holds the decoding settings the run fixes. A setting the run does not give
takes each benchmark's own default (``Benchmark.generation_defaults``: report benchmarks
get more tokens than short-answer ones), so ``config.json`` and the run's identity record
only the settings given (``generation_for`` resolves them per benchmark). A config saved
before per-benchmark defaults existed lists every setting, so it resumes exactly as it ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dataclasses

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_serializer,
    field_validator,
    model_validator,
)

from lingshu.core.errors import UserError
from lingshu.core.hashing import sha256_obj
from lingshu.core.secrets import without_secrets
from lingshu.eval.judge.config import JudgeConfig, resolve_scope
from lingshu.inference import GenerationParams

MAX_CONTEXT = 2**24
"""A bound on any model's context (16.8M tokens; the longest released, Llama 4 Scout's, is
10M): a larger answer budget is a typo, refused before anything loads."""


class Shard(BaseModel):
    """Shard ``index`` of ``count`` (0-based): samples ``index, index+count, ...``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    index: int
    count: int

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """``shard: 1/4`` in a config file means what ``--shard 1/4`` means."""
        if isinstance(data, str):
            try:
                i, n = (int(p) for p in data.split("/"))
            except ValueError:
                raise ValueError(f"expected 'i/n' with integers, e.g. 0/4; got {data!r}") from None
            return {"index": i, "count": n}
        return data

    @model_validator(mode="after")
    def _in_range(self) -> Shard:
        # shard 5 of 2 would select no sample and report an empty run as a success
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"shard {self.index}/{self.count}: need 0 <= i < n (shards are 0-based)"
            )
        return self

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            i, n = (int(p) for p in text.split("/"))
        except ValueError:
            raise UserError(f"--shard {text!r}: expected 'i/n' with integers, e.g. 0/4") from None
        if n < 1 or not 0 <= i < n:
            raise UserError(f"--shard {text!r}: need 0 <= i < n (shards are 0-based), e.g. 0/{max(n, 1)}")
        return cls(index=i, count=n)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmarks: list[str] = Field(min_length=1, description="benchmark names, see `lingshu benchmarks list`")
    data_dir: Path = Field(description="folder holding one sub-folder per benchmark")
    split: str | dict[str, str] | None = Field(
        None,
        description="split for every benchmark, or {benchmark: split} (default: the paper's)",
    )
    limit: int | dict[str, int] | None = Field(
        None, description="first N samples of each benchmark, or {benchmark: N}"
    )
    shard: Shard | None = None
    profile: str = "strict"
    backend: str = "hf"
    backend_options: dict[str, Any] = Field(default_factory=dict)
    generation: GenerationParams = Field(
        default_factory=GenerationParams,
        description="decoding settings; one not given takes the benchmark's own default",
    )
    _generation_given: frozenset[str] = PrivateAttr(default=frozenset())
    chunk_size: int | None = Field(
        None, ge=1, description="requests handed to the backend at once (default: its batch size x 4)"
    )
    use_cache: bool = True
    cache_path: Path | None = None
    fail_fast: bool = False
    bootstrap_resamples: int = Field(1000, ge=100)
    report_metrics: list[str] | None = Field(
        None, description="report-generation metrics (default: all; see docs/report-metrics.md)"
    )
    report_weights: Path | None = Field(
        None, description="YAML with local weights for model-based report metrics"
    )
    judge: JudgeConfig | None = Field(
        None, description="LLM judge for free-form answers (docs/judge.md); None = rules only"
    )

    @model_validator(mode="wrap")
    @classmethod
    def _note_given_generation(cls, data: Any, handler: Any) -> EvalConfig:
        """Remember which generation settings the input gave (see the module doc)."""
        given = _given_generation(data)
        model = handler(data)
        model._generation_given = given
        return model

    @field_validator("generation")
    @classmethod
    def _answer_fits_a_context(cls, generation: GenerationParams) -> GenerationParams:
        # issue 22: --max-new-tokens 10**12 was accepted. No model's context holds more than
        # MAX_CONTEXT tokens; the hf backend also refuses a budget beyond its model's context.
        if generation.max_new_tokens > MAX_CONTEXT:
            raise ValueError(f"max_new_tokens {generation.max_new_tokens} is longer than any "
                             f"model's context; use at most {MAX_CONTEXT:,}")
        return generation

    @field_serializer("generation")
    def _dump_given_generation(self, generation: GenerationParams) -> dict[str, Any]:
        return {k: v for k, v in generation.to_dict().items() if k in self._generation_given}

    def generation_for(self, benchmark: Any) -> GenerationParams:
        """The settings ``benchmark`` is run with: its defaults, then the run's given ones."""
        given = {k: v for k, v in self.generation.to_dict().items() if k in self._generation_given}
        values = {**benchmark.generation_defaults(), **given}
        values["stop"] = tuple(values.get("stop") or ())
        return GenerationParams(**values)

    @model_validator(mode="after")
    def _resolve_judge_scope(self) -> EvalConfig:
        """Fix the judge's scope for the profile, so the saved config says what was judged."""
        if self.judge is not None:
            scope = resolve_scope(self.profile, self.judge.scope)
            if scope != self.judge.scope:
                self.judge = self.judge.model_copy(update={"scope": scope})
        return self

    def summarize_options(self) -> dict[str, Any]:
        """Keyword arguments of ``metrics.aggregate.summarize`` for this run."""
        return {
            "n_resamples": self.bootstrap_resamples,
            "report_metrics": self.report_metrics,
            "report_config": self.report_weights,
        }

    @field_serializer("backend_options")
    def _no_credentials(self, options: dict[str, Any]) -> dict[str, Any]:
        """A key given as a backend option (``--api-key``) is used, never dumped: it stays
        out of config.json and of the run's identity, so a resume may take it from the
        environment or use a rotated one (core.secrets)."""
        return without_secrets(options)

    @field_validator("benchmarks")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a benchmark is listed twice")
        return v

    @field_validator("limit")
    @classmethod
    def _positive(cls, v: int | dict[str, int] | None) -> int | dict[str, int] | None:
        values = v.values() if isinstance(v, dict) else [] if v is None else [v]
        if any(n < 1 for n in values):
            raise ValueError("limit must be at least 1")
        return v

    def limit_for(self, benchmark: str) -> int | None:
        if isinstance(self.limit, dict):
            return self.limit.get(benchmark)
        return self.limit

    def split_for(self, benchmark: str) -> str | None:
        if isinstance(self.split, dict):
            return self.split.get(benchmark)
        return self.split

    # Fields that do not change any result: a run may be resumed with other values.
    _NON_SEMANTIC = ("use_cache", "cache_path", "fail_fast", "chunk_size")

    def identity(self, include_shard: bool = True) -> dict[str, Any]:
        d = self.model_dump(mode="json")
        for k in self._NON_SEMANTIC:
            d.pop(k, None)
        d["data_dir"] = str(Path(self.data_dir).resolve())
        d.pop("judge", None)  # absent without a judge: older runs keep their identity
        if self.judge is not None:
            d["judge"] = self.judge.identity()
        if not include_shard:
            d.pop("shard", None)
        return d

    def identity_hash(self, include_shard: bool = True) -> str:
        return sha256_obj(self.identity(include_shard))


def _given_generation(data: Any) -> frozenset[str]:
    """The generation settings an ``EvalConfig`` input gives: a mapping's keys; every field
    of a ``GenerationParams`` built in code (a pydantic one: the fields it was given)."""
    if isinstance(data, EvalConfig):
        return data._generation_given
    gen = data.get("generation") if isinstance(data, dict) else None
    if gen is None:
        return frozenset()
    if isinstance(gen, dict):
        return frozenset(gen)
    fields_set = getattr(gen, "model_fields_set", None)
    if fields_set is not None:
        return frozenset(fields_set)
    if dataclasses.is_dataclass(gen):
        return frozenset(f.name for f in dataclasses.fields(gen))
    return frozenset()
