"""Stage kinds: ``kind: sft | grpo`` in a recipe maps to a config model and a runner.

``sft`` runs on our supervised loop (:mod:`lingshu.train.sft`), ``grpo`` on TRL
(:mod:`lingshu.train.grpo`). Every runner follows :class:`StageRunner` and returns a
:class:`StageResult`. Other packages add kinds with :func:`register_stage_kind`; ``lingshu
train stages`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lingshu.core.registry import Registry
from lingshu.train.config import STAGE_CONFIGS, StageConfig, register_stage_config
from lingshu.train.grpo import run_grpo_stage
from lingshu.train.sft import run_sft_stage
from lingshu.train.stages.base import MetricsSink, StageResult, StageRunner, read_summary


@dataclass(frozen=True)
class StageKind:
    name: str
    config_model: type[StageConfig]
    runner: StageRunner

    @property
    def doc(self) -> str:
        return (self.config_model.__doc__ or "").strip().splitlines()[0]


STAGE_RUNNERS: Registry[StageRunner] = Registry("stage kind")


def register_stage_kind(name: str, config_model: type[StageConfig], runner: StageRunner) -> None:
    """Add ``kind: <name>``: recipes validate it with ``config_model`` and run it with
    ``runner``."""
    register_stage_config(name, config_model)
    STAGE_RUNNERS.add(name, runner)


def get_stage_kind(name: str) -> StageKind:
    return StageKind(name, STAGE_CONFIGS.get(name), STAGE_RUNNERS.get(name))


def stage_kinds() -> list[StageKind]:
    """Every registered kind, by name (``lingshu train stages``)."""
    return [get_stage_kind(n) for n in STAGE_RUNNERS.names()]


STAGE_RUNNERS.add("sft", run_sft_stage)
STAGE_RUNNERS.add("grpo", run_grpo_stage)

__all__ = ["MetricsSink", "StageKind", "StageResult", "StageRunner", "get_stage_kind",
           "read_summary", "register_stage_kind", "stage_kinds"]
