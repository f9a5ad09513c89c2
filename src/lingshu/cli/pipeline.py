"""``lingshu pipeline run --recipe NAME|FILE``: curate, train every stage, evaluate after
each, and publish the final model; every step cached, so a rerun or a resumed run redoes only
what changed or was interrupted. ``lingshu pipeline --recipe X`` is the same as ``lingshu
pipeline run --recipe X``; ``lingshu pipeline recipes`` lists the shipped ones."""

from __future__ import annotations

import typer

from lingshu.cli.groups import as_json, default_group, echo_rows, overrides_from
from lingshu.cli.output import configure_progress

app = default_group("pipeline", "Run the whole system end to end: raw data -> curation -> 4 stages "
                                "-> evaluation -> final model.")


@app.command("run", context_settings={"allow_interspersed_args": True})
def run(
    overrides: list[str] = typer.Argument(None, help="key=value overrides of the recipe, "
                                          "e.g. raw.limit_per_source=8."),
    recipe: str = typer.Option(..., "--recipe", "-r",
                               help="Pipeline recipe: a shipped name (`lingshu pipeline recipes`) or a YAML file."),
    sets: list[str] = typer.Option(None, "--set", help="Same as a trailing key=value (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run a pipeline recipe end to end and print the results table and gates."""
    from rich.console import Console

    from lingshu.pipeline import load_pipeline_recipe, run_pipeline
    from lingshu.pipeline.report import print_table

    items = overrides_from(overrides, sets, example="raw.limit_per_source=8")
    cfg = load_pipeline_recipe(recipe, items)
    console = Console()
    console.print(f"[bold]lingshu pipeline[/] {cfg.name}: run directory {cfg.output_dir}")
    # -q and a log (stderr not a terminal) switch every bar off, the libraries' too (the
    # GGUF conversion that builds Lingshu-Nano, model loading), as `lingshu eval run` does
    result = run_pipeline(cfg, progress=configure_progress(quiet), console=console)
    print_table(result["points"], result["benchmarks"], console)
    for b, d in result["paired"].items():
        if d:
            console.print(f"{b}: final - base {100 * d['diff']:+.1f} points, paired 95% CI "
                          f"[{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}] ({d['n']} questions)")
    for g in result["gates"]:
        status = "[green]PASS[/]" if g["passed"] else "[red]FAIL[/]"
        console.print(f"gate {g['benchmark']}: {status} "
                      + ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in g["checks"].items()))
    cached = sum(1 for s in result["steps"] if s["cached"])
    console.print(f"{len(result['steps'])} steps, {cached} from the cache. Report: "
                  f"{result['report']['markdown']}  plot: {result['report']['png']}")
    final = result["final_model"]
    console.print("Serve the final model:\n"
                  f"  lingshu serve --model {final} --ui\n"
                  "Evaluate it on any benchmark (`lingshu benchmarks list`):\n"
                  f"  lingshu eval run -b lingshu-demo --data-dir data/benchmarks --backend hf "
                  f"--model {final}")


@app.command("recipes")
def recipes(json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """List the shipped pipeline recipes."""
    from lingshu.pipeline import PIPELINE_RECIPES

    items = PIPELINE_RECIPES.summaries()
    if json_out:
        as_json(items)
        return
    echo_rows([(n, d["description"]) for n, d in items.items()], (14,))
