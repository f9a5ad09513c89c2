"""``lingshu benchmarks``: what can be evaluated, and where its data goes."""

from __future__ import annotations

import inspect
import textwrap

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="List benchmarks and show how to get their data.", no_args_is_help=True)


@app.command("list")
def list_benchmarks() -> None:
    """Print every registered benchmark with its modality, split and size."""
    from lingshu.eval.benchmarks import BENCHMARKS

    table = Table(title="Benchmarks")
    for col in ("name", "modality", "split", "paper n", "version"):
        table.add_column(col)
    for name in BENCHMARKS.names():
        b = BENCHMARKS.get(name)
        n = "-" if b.expected_count is None else f"{b.expected_count:,}"
        table.add_row(name, b.modality, b.split, n, b.version)
    Console().print(table)


@app.command("info")
def info(name: str = typer.Argument(..., help="A benchmark name from `lingshu benchmarks list`.")) -> None:
    """Show the expected file layout, source, license and split of one benchmark."""
    from lingshu.eval.benchmarks import BENCHMARKS

    b = BENCHMARKS.get(name)
    doc = inspect.getdoc(b) or ""
    print(f"{b.name} (version {b.version}, {b.modality})")
    if doc:
        print(f"\n{doc}\n")
    print(f"source:  {b.source}")
    print(f"license: {b.license}")
    print(f"split:   {b.split}  (--split choices: {', '.join(b.splits)})")
    if b.expected_count is not None:
        print(f"paper n: {b.expected_count:,}")
    print(f"\nPut the files under DATA_DIR/{b.name}/ like this:\n")
    print(textwrap.indent(textwrap.dedent(b.layout).strip("\n"), "  "))
