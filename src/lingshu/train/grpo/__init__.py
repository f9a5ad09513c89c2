"""GRPO (stage 4 of Lingshu; Med-R1): the stage config, its runner and RL data preparation.

``GRPOStageConfig`` validates a recipe's ``kind: grpo`` stage (no torch import; importing
this package registers the kind's config); ``run_grpo_stage(config, *, model_path,
output_dir, seed, **common)`` trains it on TRL's GRPOTrainer and returns a ``StageResult``;
``prepare_rl_data`` turns curated QA rows into the paper's RL mixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lingshu.train.grpo.config import GRPOStageConfig, RLDataSource
from lingshu.train.grpo.data_prep import RLDataPrepConfig, prepare_rl_data, prepare_rl_rows
from lingshu.train.grpo.prompts import GRPO_PROMPTS, GRPOPrompt, get_prompt

if TYPE_CHECKING:
    from lingshu.train.stages.base import StageResult


def run_grpo_stage(config: GRPOStageConfig, **kwargs: Any) -> StageResult:
    """See ``lingshu.train.grpo.stage.run_grpo_stage`` (imported lazily: it pulls in torch)."""
    from lingshu.train.grpo.stage import run_grpo_stage as _run

    return _run(config, **kwargs)


__all__ = [
    "GRPOPrompt",
    "GRPOStageConfig",
    "GRPO_PROMPTS",
    "RLDataPrepConfig",
    "RLDataSource",
    "get_prompt",
    "prepare_rl_data",
    "prepare_rl_rows",
    "run_grpo_stage",
]
