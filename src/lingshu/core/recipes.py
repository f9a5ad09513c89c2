"""Shipped recipes: YAML files inside an area's package folder, found by name from every
command (``--recipe nano``) or given as a path.

Each area that ships recipes (training, curation, pipeline) makes one ``ShippedRecipes``
over its own folder; the CLI lists and resolves through it, so a name that works for
``lingshu train`` works the same way for ``lingshu data run`` and ``lingshu pipeline run``.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from lingshu.core.errors import UserError
from lingshu.core.registry import did_you_mean


class ShippedRecipes:
    """The recipes of one kind shipped in ``folder`` (``*.yaml``; ``name/*.yaml`` bundles
    are addressed as ``name/file``)."""

    def __init__(self, kind: str, folder: Path, list_command: str,
                 aliases: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.folder = Path(folder)
        self.list_command = list_command
        # former spellings (a recipe's path before it moved) -> its name, so old commands work
        self.aliases = dict(aliases or {})

    def names(self) -> dict[str, Path]:
        """Name -> path of every shipped recipe, sorted by name."""
        if not self.folder.is_dir():
            return {}
        return {p.stem: p for p in sorted(self.folder.glob("*.yaml"))}

    def resolve(self, name_or_path: str | Path) -> Path:
        """An existing file path, or the name of a shipped recipe (with or without .yaml)."""
        p = Path(name_or_path).expanduser()
        if p.is_file():
            return p.absolute()
        shipped = self.names()
        key = str(name_or_path).removesuffix(".yaml")
        key = self.aliases.get(os.path.normpath(key), key)
        if key in shipped:
            return shipped[key]
        guess = did_you_mean(key, shipped)
        hint = f" did you mean {guess!r}?" if guess else ""
        raise UserError(
            f"{self.kind} recipe {str(name_or_path)!r}: no such file and no shipped recipe of that "
            f"name;{hint} shipped: {', '.join(shipped) or '(none)'} (see `{self.list_command}`)"
        )

    def summaries(self) -> dict[str, dict[str, str]]:
        """``{name: {"path", "description"}}`` for list commands."""
        return {n: {"path": str(p), "description": recipe_summary(p)} for n, p in self.names().items()}


def recipe_summary(path: Path) -> str:
    """The first sentence of a recipe's ``description`` (or its header comment), read
    without validating, so a list command never fails on one broken file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "(unreadable)"
    desc = str(data.get("description", "")).strip() if isinstance(data, dict) else ""
    if not desc:
        comments = [ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")]
        desc = next((c for c in comments if c), "")
    return desc.split(". ")[0].replace("\n", " ")
