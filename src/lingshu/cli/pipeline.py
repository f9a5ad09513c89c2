"""``lingshu pipeline --recipe FILE``: curate, train every stage, evaluate after each, and
publish the final model; every step cached, so a rerun or a resumed run redoes only what
changed or was interrupted."""

from __future__ import annotations

from pathlib import Path

import typer


def pipeline(
    recipe: Path = typer.Option(..., "--recipe", "-r", help="Pipeline recipe (YAML), e.g. recipes/nano/pipeline.yaml."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a recipe key: key.sub=value (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run the whole system end to end: raw data -> curation -> 4 stages -> evaluation -> final model."""
    from rich.console import Console

    from lingshu.pipeline import load_pipeline_recipe, run_pipeline
    from lingshu.pipeline.report import print_table

    cfg = load_pipeline_recipe(recipe, overrides or [])
    console = Console()
    console.print(f"[bold]lingshu pipeline[/] {cfg.name}: run directory {cfg.output_dir}")
    result = run_pipeline(cfg, progress=not quiet, console=console)
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
