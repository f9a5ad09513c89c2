"""Training configuration: recipes, stage configs and evaluation settings, typed and
documented, with no training code behind them (importing this package loads no torch and no
stage implementation). The GRPO stage's config lives with GRPO (``lingshu.train.grpo.config``)
and registers itself here by kind.
"""

from lingshu.train.config.evaluation import EvalBenchmark, EvalSettings
from lingshu.train.config.files import (
    RECIPES_DIR,
    TRAIN_RECIPES,
    recipe_summary,
    resolve_recipe_path,
    shipped_recipes,
)
from lingshu.train.config.recipe import Parallelism, Recipe, field_docs, load_recipe
from lingshu.train.config.sft import (
    PARTS,
    DataSource,
    EmbeddingAlignment,
    ImageAugment,
    LoRAConfig,
    OptimizerConfig,
    SFTStageConfig,
    total_steps,
)
from lingshu.train.config.stage import (
    STAGE_CONFIGS,
    StageConfig,
    register_stage_config,
    validate_stage,
)

__all__ = [
    "PARTS",
    "RECIPES_DIR",
    "STAGE_CONFIGS",
    "DataSource",
    "EmbeddingAlignment",
    "EvalBenchmark",
    "EvalSettings",
    "ImageAugment",
    "LoRAConfig",
    "OptimizerConfig",
    "Parallelism",
    "Recipe",
    "SFTStageConfig",
    "StageConfig",
    "field_docs",
    "load_recipe",
    "TRAIN_RECIPES",
    "recipe_summary",
    "register_stage_config",
    "resolve_recipe_path",
    "shipped_recipes",
    "total_steps",
    "validate_stage",
]
