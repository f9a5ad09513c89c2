"""Training: typed multi-stage recipes (Lingshu stages 1-3 SFT, stage 4 GRPO), dry runs,
checkpoints and the ``lingshu train`` command. Importing this package imports no torch.

``lingshu.train.grpo`` holds the GRPO stage and RL data preparation;
``lingshu.train.rewards`` the registered, pure reward functions.
"""

from lingshu.train.recipe import Recipe, SFTStageConfig, load_recipe
from lingshu.train.recipe_files import resolve_recipe_path, shipped_recipes

__all__ = ["Recipe", "SFTStageConfig", "load_recipe", "resolve_recipe_path", "shipped_recipes"]
