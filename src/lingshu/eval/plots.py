"""Figures and a flat table of a run's metrics, next to ``metrics.json``.

``metrics.csv`` has one row per number (long format: benchmark, breakdown, group, metric,
value, CI, n), which spreadsheets and pandas read without knowing the JSON's nesting.
``plots/`` holds PNGs for what people would rather see than read: accuracy per benchmark
with its 95% CI, the invalid-answer rate, and accuracy per category of each breakdown.
Everything is computed from ``metrics.json`` alone, so a merged run gets the same files.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path
from typing import Any

from lingshu.core.io import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

CSV_NAME = "metrics.csv"
PLOTS_DIR = "plots"
CSV_COLUMNS = ("benchmark", "breakdown", "group", "metric", "value", "ci_low", "ci_high", "n")
MAX_GROUPS = 40
"""Categories drawn per breakdown (the largest by n); the CSV keeps all of them."""


def metrics_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat rows of ``metrics.csv``."""
    rows: list[dict[str, Any]] = []

    def block(bench: str, breakdown: str, group: str, b: dict[str, Any]) -> None:
        base = {"benchmark": bench, "breakdown": breakdown, "group": group, "n": b.get("n")}
        if b.get("accuracy") is not None:
            rows.append({**base, "metric": "accuracy", "value": b["accuracy"],
                         "ci_low": b.get("ci_low"), "ci_high": b.get("ci_high")})  # fmt: skip
        for key in ("invalid_rate", "n_scored", "n_invalid", "n_errors", "n_judge_errors"):
            if b.get(key) is not None:
                rows.append({**base, "metric": key, "value": b[key]})

    for bench, b in metrics["benchmarks"].items():
        block(bench, "", "", b)
        for key, groups in (b.get("breakdowns") or {}).items():
            for group, g in groups.items():
                block(bench, key, str(group), g)
        for key, v in (b.get("report_metrics") or {}).items():
            rows.append({"benchmark": bench, "breakdown": "", "group": "", "metric": key,
                         "value": v.get("value"), "ci_low": v.get("ci_low"),
                         "ci_high": v.get("ci_high"), "n": b.get("n_scored")})  # fmt: skip
        for key, v in (b.get("open_scores") or {}).items():
            rows.append({"benchmark": bench, "breakdown": "open_scores", "group": "", "metric": key,
                         "value": v.get("mean"), "ci_low": v.get("ci_low"),
                         "ci_high": v.get("ci_high"), "n": v.get("n")})  # fmt: skip
    if metrics.get("macro_accuracy") is not None:
        rows.append({"benchmark": "(macro)", "breakdown": "", "group": "",
                     "metric": "accuracy", "value": metrics["macro_accuracy"]})  # fmt: skip
    return rows


def write_metrics_csv(run_dir: Path, metrics: dict[str, Any]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in metrics_rows(metrics):
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CSV_COLUMNS})
    path = Path(run_dir) / CSV_NAME
    atomic_write_text(path, buf.getvalue())
    return path


def write_plots(run_dir: Path, metrics: dict[str, Any]) -> list[Path]:
    """Draw the run's PNGs under ``plots/``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    out = Path(run_dir) / PLOTS_DIR
    benches = metrics["benchmarks"]
    written: list[Path] = []
    scored = {k: b for k, b in benches.items() if b.get("accuracy") is not None}
    if scored:
        written.append(_bars(out / "accuracy.png", "Accuracy per benchmark (95% CI)", scored, "accuracy %"))
        written.append(
            _bars(out / "invalid_rate.png", "Invalid answers per benchmark", scored, "invalid %",
                  key="invalid_rate", with_ci=False)  # fmt: skip
        )
    for bench, b in scored.items():
        for key, groups in (b.get("breakdowns") or {}).items():
            groups = {str(g): v for g, v in groups.items() if v.get("accuracy") is not None}
            if len(groups) < 2:
                continue
            top = dict(sorted(groups.items(), key=lambda kv: -kv[1].get("n", 0))[:MAX_GROUPS])
            title = f"{bench}: accuracy by {key} (95% CI)"
            if len(top) < len(groups):
                title += f", {len(top)} largest of {len(groups)}"
            written.append(_bars(out / f"{_safe(bench)}-{_safe(key)}.png", title, top, "accuracy %"))
    return written


def _bars(path: Path, title: str, items: dict[str, dict[str, Any]], xlabel: str,
          key: str = "accuracy", with_ci: bool = True) -> Path:  # fmt: skip
    import matplotlib.pyplot as plt

    names = list(items)
    values = [100 * (items[n].get(key) or 0.0) for n in names]
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.32 * len(names)))
    err = None
    if with_ci:
        lows = [100 * (items[n].get("ci_low") if items[n].get("ci_low") is not None else items[n][key]) for n in names]
        highs = [100 * (items[n].get("ci_high") if items[n].get("ci_high") is not None else items[n][key]) for n in names]
        err = [[max(0.0, v - lo) for v, lo in zip(values, lows)],
               [max(0.0, hi - v) for v, hi in zip(values, highs)]]  # fmt: skip
    ax.barh(range(len(names)), values, xerr=err, color="#4c78a8", ecolor="#333333", capsize=3)
    ax.set_yticks(range(len(names)), [f"{n} (n={items[n].get('n', '?')})" for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]


def write_figures_and_table(run_dir: Path, metrics: dict[str, Any]) -> None:
    """``metrics.csv`` and ``plots/``; a drawing failure is logged, never fails the run."""
    write_metrics_csv(run_dir, metrics)
    try:
        write_plots(run_dir, metrics)
    except Exception as e:  # noqa: BLE001 - the numbers are saved; a figure is a convenience
        log.warning("could not draw the run's plots (%s: %s)", type(e).__name__, e)
