"""What every stage of a recipe has (``name``, ``kind``, ``data``) and the registry of stage
config models by kind.

A recipe's ``stages`` entries are validated by the model registered for their ``kind``
(``sft`` here, ``grpo`` by :mod:`lingshu.train.grpo.config`; other packages register
theirs with :func:`lingshu.train.register_stage_kind`). Every model subclasses
:class:`StageConfig`, so the run loop, the dry run and the pipeline read a stage's name,
kind and data files the same way for every kind, without asking which kind it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from lingshu.core.config import StrictModel, format_validation_error
from lingshu.core.errors import UserError
from lingshu.core.registry import Registry
from lingshu.train.config.data_paths import DataPathError, entry_files


class StageConfig(StrictModel):
    """Base of every stage kind's config: its name, its kind and its data files."""

    name: str = Field(description="stage name; its outputs go to <output_dir>/<name>/")
    kind: str = Field(description="stage kind (`lingshu train stages` lists them)")
    data: list[Any] = Field(min_length=1, description="data files, each with a path")

    def data_files(self) -> list[Path]:
        """The stage's data files (every kind's data items carry ``path``), an SFT folder or
        pattern expanded (``data_paths``). An entry that names nothing here (a dry run of
        data elsewhere) is kept as written."""
        out: list[Path] = []
        for item in self.data:
            try:
                out += entry_files(item)
            except DataPathError:
                out.append(Path(item.path))
        return out

    def with_data(self, path: Path) -> StageConfig:
        """A copy of this stage training on ``path`` only (the pipeline's stage data)."""
        source = type(self.data[0])(path=Path(path))
        return self.model_copy(update={"data": [source]}, deep=True)


STAGE_CONFIGS: Registry[type[StageConfig]] = Registry("stage kind")


def register_stage_config(kind: str, model: type[StageConfig]) -> None:
    """Make ``kind: <kind>`` in a recipe validate with ``model``."""
    if not (isinstance(model, type) and issubclass(model, StageConfig)):
        raise TypeError(f"stage kind {kind!r}: its config model must subclass StageConfig")
    STAGE_CONFIGS.add(kind, model)


def validate_stage(index: int, raw: Any) -> StageConfig:
    """Stage ``index`` of a recipe, validated by its kind's model (``kind`` defaults to sft).

    Errors name the stage's full location (``stages.2.lr: ...``) so the recipe loader can
    print them as they are.
    """
    if isinstance(raw, StageConfig):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"stage {index}: expected a mapping")
    kind = str(raw.get("kind", "sft"))
    try:
        model = STAGE_CONFIGS.get(kind)
    except UserError as e:
        raise ValueError(f"stage {index}: {e}") from None
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as e:
        sep = "." if e.errors()[0]["loc"] else ": "  # a model-level check has no location
        raise ValueError(f"stages.{index}{sep}{format_validation_error(e)}") from None
