"""The ``lingshu`` command. Subcommands are grouped by area; each group lives in its own
module and is mounted here. A ``UserError`` anywhere prints one line and exits 2."""

from __future__ import annotations

import logging
import os
import sys

import typer

from lingshu import __version__
from lingshu.cli import benchmarks as benchmarks_cli
from lingshu.cli import chat as chat_cli
from lingshu.cli import data as data_cli
from lingshu.cli import demo as demo_cli
from lingshu.cli import eval as eval_cli
from lingshu.cli import models as models_cli
from lingshu.cli import pipeline as pipeline_cli
from lingshu.cli import serve as serve_cli
from lingshu.core.errors import UserError

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
app.command("pipeline")(pipeline_cli.pipeline)


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
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume where it stopped", file=sys.stderr)
        return 130
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 1
    except Exception as e:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(e, click.ClickException):
            e.show()
            return e.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
