"""Training: typed multi-stage recipes (Lingshu stages 1-3 SFT, stage 4 GRPO), one stage
loop, checkpoint evaluation, dry runs and the ``lingshu train`` command. Importing this
package imports no torch.

The face of the area; other areas (the pipeline, the CLI) import from here only:

- configs: :class:`Recipe`, :class:`SFTStageConfig`, :class:`GRPOStageConfig`,
  :class:`EvalSettings`, :func:`load_recipe`, shipped recipes (:func:`shipped_recipes`,
  :func:`resolve_recipe_path`), :func:`field_docs`;
- running: :func:`run_recipe` (with ``data_for`` / ``around_stage`` / ``after_stage``
  hooks), the stage kinds (:func:`get_stage_kind`, :func:`register_stage_kind`,
  :func:`stage_kinds`) and their :class:`StageResult`;
- :func:`evaluate_checkpoint` (and :func:`benchmark_scores` of its metrics);
- GRPO's versioned prompts (:func:`get_prompt`).

``lingshu.train.grpo`` holds the GRPO stage and RL data preparation;
``lingshu.train.rewards`` the registered, pure reward functions; ``lingshu.train.data``
datasets, packing and augmentation.
"""

from lingshu.train.config import (
    EvalBenchmark,
    EvalSettings,
    Recipe,
    SFTStageConfig,
    StageConfig,
    field_docs,
    load_recipe,
    TRAIN_RECIPES,
    recipe_summary,
    resolve_recipe_path,
    shipped_recipes,
)
from lingshu.train.evaluate import benchmark_scores, evaluate_checkpoint
from lingshu.train.grpo import GRPO_PROMPTS, GRPOStageConfig, get_prompt
from lingshu.train.runner import run_recipe, stage_summaries
from lingshu.train.stages import (
    StageKind,
    StageResult,
    StageRunner,
    get_stage_kind,
    register_stage_kind,
    stage_kinds,
)

__all__ = [
    "GRPO_PROMPTS",
    "EvalBenchmark",
    "EvalSettings",
    "GRPOStageConfig",
    "Recipe",
    "SFTStageConfig",
    "StageConfig",
    "StageKind",
    "StageResult",
    "StageRunner",
    "benchmark_scores",
    "evaluate_checkpoint",
    "field_docs",
    "get_prompt",
    "get_stage_kind",
    "load_recipe",
    "TRAIN_RECIPES",
    "recipe_summary",
    "register_stage_kind",
    "resolve_recipe_path",
    "run_recipe",
    "shipped_recipes",
    "stage_kinds",
    "stage_summaries",
]
