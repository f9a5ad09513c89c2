"""Command groups that also accept their older single-command spelling.

``lingshu train --recipe nano`` and ``lingshu pipeline --recipe nano`` were commands before
they became groups (``lingshu train run | recipes | rewards | stages | prepare-rl``); a
:class:`DefaultGroup` sends any argument list that does not start with a subcommand name to
its default subcommand, so the old spellings keep working and nothing in users' scripts breaks.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

_HELP = {"-h", "--help"}


class DefaultGroup(TyperGroup):
    """A group whose ``default_command`` runs when no subcommand name is given."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not (len(args) == 1 and args[0] in _HELP):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def default_group(name: str, help: str) -> typer.Typer:
    """A typer app for ``lingshu NAME`` whose bare options go to ``lingshu NAME run``."""
    return typer.Typer(name=name, help=help, cls=DefaultGroup, no_args_is_help=True,
                       rich_markup_mode="markdown",
                       context_settings={"help_option_names": ["-h", "--help"]})


def overrides_from(args: list[str] | None, sets: list[str] | None, *, example: str) -> list[str]:
    """One override syntax everywhere: trailing ``key=value`` arguments, with ``--set
    key=value`` kept as an alias; anything else is a one-line error."""
    from lingshu.core.errors import UserError

    items = [*(args or []), *(sets or [])]
    bad = [a for a in items if "=" not in a]
    if bad:
        raise UserError(f"argument {bad[0]!r}: expected key=value override (e.g. {example})")
    return items


def echo_rows(rows: list[tuple[str, ...]], widths: tuple[int, ...] = (20,)) -> None:
    """A plain two- or three-column listing (names padded), one row a line."""
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        typer.echo(" ".join([*cells, row[-1]]).rstrip())


def as_json(obj: Any) -> None:
    import json

    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
