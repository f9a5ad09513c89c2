"""Where recipes live: the shipped ones inside the package (``lingshu/train/recipes``, also
reachable from the repository root as ``recipes/``), or any YAML file the user names."""

from __future__ import annotations

from pathlib import Path

from lingshu.core.errors import UserError

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"


def shipped_recipes() -> dict[str, Path]:
    """Name -> path of every recipe shipped with the package."""
    return {p.stem: p for p in sorted(RECIPES_DIR.glob("*.yaml"))}


def recipe_summary(path: Path) -> str:
    """The recipe's ``description`` (first sentence), read without validating."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return "(unreadable)"
    desc = str(data.get("description", "")).strip().split(". ")[0]
    return desc


def resolve_recipe_path(name_or_path: str | Path) -> Path:
    """A file path, or the name of a shipped recipe (``nano``, ``lingshu-7b``)."""
    p = Path(name_or_path)
    if p.is_file():
        return p.absolute()
    shipped = shipped_recipes()
    key = str(name_or_path).removesuffix(".yaml")
    if key in shipped:
        return shipped[key]
    raise UserError(
        f"recipe {str(name_or_path)!r}: no such file and no shipped recipe of that name; "
        f"shipped: {', '.join(shipped) or '(none)'} (see `lingshu train recipes`)"
    )
