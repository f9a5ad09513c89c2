"""Where training recipes live: the shipped ones inside the package (``lingshu/train/recipes``,
also reachable from the repository root as ``recipes/``), or any YAML file the user names."""

from __future__ import annotations

from pathlib import Path

from lingshu.core.recipes import ShippedRecipes, recipe_summary

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
TRAIN_RECIPES = ShippedRecipes("training", RECIPES_DIR, "lingshu train recipes")

__all__ = ["RECIPES_DIR", "TRAIN_RECIPES", "recipe_summary", "resolve_recipe_path", "shipped_recipes"]


def shipped_recipes() -> dict[str, Path]:
    """Name -> path of every training recipe shipped with the package."""
    return TRAIN_RECIPES.names()


def resolve_recipe_path(name_or_path: str | Path) -> Path:
    """A file path, or the name of a shipped recipe (``nano``, ``lingshu-7b``)."""
    return TRAIN_RECIPES.resolve(name_or_path)
