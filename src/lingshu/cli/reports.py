"""``lingshu eval score-reports``: score a predictions file against a gold file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lingshu.cli.output import make_console
from lingshu.core.errors import UserError


def score_reports(
    pred: Path = typer.Option(..., "--pred", help="Predictions: CSV (study_id,report) or JSONL."),
    gold: Path = typer.Option(..., "--gold", help="Gold reports, same format."),
    metrics: str = typer.Option(
        "", "--metrics", help="Comma-separated metrics (default: all), e.g. bleu,rouge_l,meteor,cider."
    ),
    weights_config: Path | None = typer.Option(
        None, "--weights-config", help="YAML naming local weights for model-based metrics."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write corpus values, CIs and per-sample scores as JSON."),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples for the 95% CIs."),
) -> None:
    """Score radiology reports with BLEU-1..4, ROUGE-L, METEOR, CIDEr-D (pycocoevalcap-exact)
    and the clinical metrics whose weights are configured, each with a 95% bootstrap CI.

    Example: `lingshu eval score-reports --pred preds.csv --gold gold.csv --metrics bleu,cider`
    """
    from lingshu.core.io import atomic_write_json
    from lingshu.eval import REPORT_METRICS
    from lingshu.eval import score_report_files as score_files

    names = [m.strip() for m in metrics.split(",") if m.strip()] or None
    for name in names or []:
        if name not in REPORT_METRICS:
            raise UserError(f"--metrics: unknown metric {name!r}; expected some of {', '.join(REPORT_METRICS.names())}")
    result = score_files(pred, gold, names, weights_config, n_resamples=resamples)
    table = Table(title=f"{len(result.ids)} reports: {pred.name} vs {gold.name}")
    for col in ("metric", "value", "95% CI"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for key, value in result.scores.corpus.items():
        est = result.ci.get(key)
        ci = f"[{est.low:.4f}, {est.high:.4f}]" if est is not None else "-"
        table.add_row(key, f"{value:.4f}", ci)
    console = make_console()
    console.print(table)
    for name, reason in result.scores.unavailable.items():
        console.print(f"[yellow]{name}: unavailable[/yellow] - {reason}", highlight=False)
    for p in result.problems:
        console.print(f"[yellow]problem[/yellow] {p}", highlight=False)
    if out is not None:
        atomic_write_json(out, result.to_dict())
        console.print(f"wrote {out}")
    elif not result.scores.corpus:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    typer.run(score_reports)
