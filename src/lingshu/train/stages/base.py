"""What a stage runner is and what it returns.

A runner trains one stage from a model folder into an output folder and returns a
:class:`StageResult` that names the model it exported, so the run loop (``lingshu train``)
and the pipeline hand that exact folder to the next stage and to the evaluation; nobody
guesses a path afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class MetricsSink(Protocol):
    """Where a stage writes its step records: the run's ``metrics.jsonl`` (``lingshu train``)
    or a per-stage file (the pipeline)."""

    def write(self, record: dict) -> None: ...

    def truncate_after(self, stage: str, step: int) -> None:
        """Drop the stage's records past ``step`` (a resumed stage trains them again)."""


@dataclass(frozen=True)
class StageResult:
    """A stage's outcome: the exported model folder and the stage's summary."""

    name: str
    kind: str
    model_path: Path  # the exported model: a Hugging Face folder the next stage loads
    output_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)
    complete: bool = True  # False when stopped early (``stop_after``): nothing exported yet

    @property
    def steps(self) -> int:
        return int(self.summary.get("steps", 0) or 0)


class StageRunner(Protocol):
    """Trains ``config`` from ``model_path`` into ``output_dir``.

    A finished stage (its summary and exported model on disk) returns at once; an
    interrupted one resumes from its last checkpoint. ``global_step_offset`` shifts the step
    numbers written to ``metrics`` (steps of earlier stages); ``stop_after`` ends after that
    many optimizer steps without exporting (tests of resumption).
    """

    def __call__(self, config: Any, *, model_path: Path, output_dir: Path, seed: int,
                 precision: str = "fp32", metrics: MetricsSink | None = None,
                 global_step_offset: int = 0, stop_after: int | None = None) -> StageResult: ...


def read_summary(output_dir: Path, name: str = "summary.json") -> dict[str, Any]:
    """A stage folder's ``summary.json`` (empty when absent or unreadable)."""
    import json

    p = Path(output_dir) / name
    try:
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    except (ValueError, OSError):
        return {}
