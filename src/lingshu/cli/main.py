"""The ``lingshu`` command. Subcommands are grouped by area; each group lives in its own
module and is mounted here. A ``UserError`` anywhere prints one line and exits 2; a usage
error (a mistyped option, command or value) prints the usage line and the error, exit 2;
neither ever shows a traceback. Help is tidied once for the whole tree (``tidy_help``)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
import typer.rich_utils
from rich.console import Group
from rich.table import Table as RichTable

from lingshu import __version__
from lingshu.cli import benchmarks as benchmarks_cli
from lingshu.cli import chat as chat_cli
from lingshu.cli import data as data_cli
from lingshu.cli import demo as demo_cli
from lingshu.cli import eval as eval_cli
from lingshu.cli import models as models_cli
from lingshu.cli import pipeline as pipeline_cli
from lingshu.cli import serve as serve_cli
from lingshu.cli import train as train_cli
from lingshu.cli.output import configure_progress, run_cli

app = typer.Typer(
    name="lingshu",
    help=(
        "Lingshu: evaluate, train and serve medical multimodal language models.\n\n"
        "Start with `lingshu benchmarks list` to see what can be evaluated, and "
        "`lingshu eval run --help` to run an evaluation."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(eval_cli.app, name="eval")
app.add_typer(benchmarks_cli.app, name="benchmarks")
app.add_typer(data_cli.app, name="data")
app.add_typer(models_cli.app, name="models")
app.command("demo")(demo_cli.demo)
app.command("chat")(chat_cli.chat)
app.command("serve")(serve_cli.serve)
app.add_typer(train_cli.app, name="train")
app.add_typer(pipeline_cli.app, name="pipeline")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lingshu {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details (INFO level)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # transformers is chatty about generation flags on every call; keep warnings that matter.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    configure_progress(quiet=False)  # off a terminal: no progress bars from any library
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


_METAVARS = {int: "INTEGER", float: "NUMBER", str: "TEXT"}


class _FoldingTable(RichTable):
    """Typer's option tables, with long words folded onto the next line instead of cut
    with an ellipsis (a default value or file name must be readable whole)."""

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(*renderables, **kwargs)
        for column in self.columns:
            column.overflow = "fold"


def _stacked(items: list[Any]) -> Group:
    """An option's help, default and "required" one under another: typer lays them out
    with ``rich.columns.Columns``, whose inner grid cuts long words with an ellipsis."""
    return Group(*items)


typer.rich_utils.Table = _FoldingTable  # type: ignore[misc]
typer.rich_utils.Columns = _stacked  # type: ignore[misc,assignment]


def tidy_help(command: Any) -> Any:
    """Give every option a plain metavar (``TEXT``, ``PATH``, ``INTEGER``; none for flags)
    instead of typer's ``<bool>`` / ``<list[str]>`` type tags, through the whole tree."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument":
            param.display_type_rich = lambda ctx: None  # the name and help say it all
            continue
        if param.param_type_name != "option" or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
            continue
        desc = param.type_descriptor
        annotation = desc.annotation
        if desc.is_list:
            annotation = (getattr(annotation, "__args__", None) or (str,))[0]
        if desc.is_path or annotation is Path:
            param.metavar = "PATH"
        elif desc.is_choice:
            param.metavar = "|".join(str(c) for c in desc.choices or ())
        else:
            param.metavar = _METAVARS.get(annotation, "TEXT")
    original = command.get_help_option

    def help_option(ctx: Any, _original: Any = original) -> Any:
        option = _original(ctx)  # made on demand by click, so tidied here
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)
    return command


def command() -> Any:
    """The click command behind ``lingshu``, with tidied help."""
    return tidy_help(typer.main.get_command(app))


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        lambda: command().main(args=argv, prog_name="lingshu", standalone_mode=False),
        interrupted="interrupted; rerun the same command to resume where it stopped",
    )


if __name__ == "__main__":
    sys.exit(main())
