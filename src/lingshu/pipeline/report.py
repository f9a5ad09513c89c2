"""The run's closing table and plot across stages, and the gates on the final model.

The table has one row per evaluated model (base, then after each stage) and, per benchmark,
accuracy with its bootstrap 95% CI and the invalid-answer rate. The plot shows the same
across stages plus the training curves: supervised loss per step and GRPO's reward and
format compliance per step. Both are written to the run directory (``report.md``,
``report.json``, ``report.png``) and the table is printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingshu.core.io import atomic_write_json, atomic_write_text


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def table_rows(points: list[dict[str, Any]], benchmarks: list[str]) -> list[list[str]]:
    rows = []
    for p in points:
        row = [p["label"]]
        for b in benchmarks:
            m = p["eval"].get(b) or {}
            row.append(f"{_pct(m.get('accuracy'))} [{_pct(m.get('ci_low'))}, {_pct(m.get('ci_high'))}]")
            row.append(_pct(m.get("invalid_rate")))
        rows.append(row)
    return rows


def markdown_table(points: list[dict[str, Any]], benchmarks: list[str]) -> str:
    head = ["model"] + [x for b in benchmarks for x in (f"{b} acc % [95% CI]", "invalid %")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(points, benchmarks)]
    return "\n".join(lines) + "\n"


def print_table(points: list[dict[str, Any]], benchmarks: list[str], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t = Table(title="Accuracy after each stage (strict profile, bootstrap 95% CI)")
    t.add_column("model")
    for b in benchmarks:
        t.add_column(f"{b} acc % [95% CI]", justify="right")
        t.add_column("invalid %", justify="right")
    for r in table_rows(points, benchmarks):
        t.add_row(*r)
    console.print(t)


def read_curves(stage_dirs: list[tuple[str, Path]]) -> dict[str, list[dict]]:
    """Training records per stage: ``train_metrics.jsonl`` (supervised loop) or
    ``metrics.jsonl`` (GRPO), whichever the stage wrote."""
    from lingshu.core.io import read_jsonl

    curves: dict[str, list[dict]] = {}
    for name, d in stage_dirs:
        for f in ("train_metrics.jsonl", "metrics.jsonl"):
            recs = [r for r in read_jsonl(d / f) if "loss" in r or "reward/mean" in r]
            if recs:
                curves[name] = recs
                break
    return curves


def plot(points: list[dict[str, Any]], benchmarks: list[str], curves: dict[str, list[dict]],
         out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    labels = [p["label"] for p in points]
    x = list(range(len(points)))
    ax = axes[0][0]
    for b in benchmarks:
        acc = [(p["eval"].get(b) or {}).get("accuracy") for p in points]
        lo = [(p["eval"].get(b) or {}).get("ci_low") for p in points]
        hi = [(p["eval"].get(b) or {}).get("ci_high") for p in points]
        ok = [i for i in x if acc[i] is not None]
        ax.errorbar([i for i in ok], [acc[i] for i in ok],
                    yerr=[[acc[i] - (lo[i] if lo[i] is not None else acc[i]) for i in ok],
                          [(hi[i] if hi[i] is not None else acc[i]) - acc[i] for i in ok]],
                    marker="o", capsize=4, label=b)
    ax.set_title("accuracy (95% bootstrap CI)")
    ax.set_ylim(0, 1)
    ax.set_xticks(x, labels, rotation=20, fontsize=8)
    ax.legend(fontsize=8)
    ax = axes[0][1]
    for b in benchmarks:
        inv = [(p["eval"].get(b) or {}).get("invalid_rate") for p in points]
        ax.plot([i for i in x if inv[i] is not None], [v for v in inv if v is not None], marker="o", label=b)
    ax.set_title("invalid answers")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(x, labels, rotation=20, fontsize=8)
    ax.legend(fontsize=8)
    ax = axes[1][0]
    offset = 0
    for name, recs in curves.items():
        if "loss" in recs[0] and "reward/mean" not in recs[0]:
            steps = [offset + int(r.get("step", i + 1)) for i, r in enumerate(recs)]
            ax.plot(steps, [r["loss"] for r in recs], marker=".", label=name)
            offset = steps[-1]
    ax.set_title("supervised loss (assistant tokens)")
    ax.set_xlabel("optimizer step (stages in sequence)")
    ax.legend(fontsize=8)
    ax = axes[1][1]
    for name, recs in grpo_curves(curves):
        steps = [int(r.get("step", i + 1)) for i, r in enumerate(recs)]
        ax.plot(steps, [r["reward/mean"] for r in recs], marker=".", label=f"{name} reward")
        if any("format_compliance" in r for r in recs):
            ax.plot(steps, [r.get("format_compliance") for r in recs], marker=".",
                    label=f"{name} format compliance")
    ax.set_title("GRPO reward and format compliance")
    ax.set_xlabel("GRPO step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out


def compliance_change(recs: list[dict]) -> tuple[float, float] | None:
    """(mean format compliance over the first quarter of a GRPO stage's logged steps, mean
    over its last quarter); None when the stage logged none. A quarter, not the first and
    last step: each step samples only a few groups, so one step is noisy."""
    vals = [float(r["format_compliance"]) for r in recs if r.get("format_compliance") is not None]
    if len(vals) < 2:
        return None
    k = max(1, len(vals) // 4)
    return sum(vals[:k]) / k, sum(vals[-k:]) / k


def grpo_curves(curves: dict[str, list[dict]]) -> list[tuple[str, list[dict]]]:
    """The GRPO stages' records among the training curves (they log ``reward/mean``)."""
    return [(n, r) for n, r in curves.items() if r and "reward/mean" in r[0]]


def check_gates(gates: list[Any], points: list[dict[str, Any]], paired: dict[str, Any],
                curves: dict[str, list[dict]] | None = None) -> list[dict]:
    """Each gate's verdict; nothing is eased: a failed gate is reported as failed."""
    base = next((p for p in points if p["label"] == "base"), None)
    final = points[-1]
    out = []
    for g in gates:
        if g.grpo_compliance_rises:
            grpo = grpo_curves(curves or {})
            change = compliance_change(grpo[-1][1]) if grpo else None
            name = grpo[-1][0] if grpo else "grpo"
            label = "format compliance, last quarter > first quarter"
            if change is not None:
                label += f" ({100 * change[0]:.0f}% -> {100 * change[1]:.0f}%)"
            checks = {label: bool(change and change[1] > change[0])}
            out.append({"benchmark": name, "checks": checks, "passed": all(checks.values())})
            continue
        m = final["eval"].get(g.benchmark) or {}
        checks: dict[str, Any] = {}
        if g.min_accuracy is not None:
            checks["accuracy >= %.2f" % g.min_accuracy] = (m.get("accuracy") or 0) >= g.min_accuracy
        if g.max_invalid_rate is not None:
            inv = m.get("invalid_rate")
            checks["invalid <= %.2f" % g.max_invalid_rate] = inv is not None and inv <= g.max_invalid_rate
        if g.beats_baseline:
            d = paired.get(g.benchmark)
            checks["paired 95% CI of final - base > 0"] = bool(d and d["ci_low"] is not None and d["ci_low"] > 0)
        if g.no_drop_beyond_ci and base is not None:
            b = base["eval"].get(g.benchmark) or {}
            checks["final >= base CI low"] = (m.get("accuracy") or 0) >= (b.get("ci_low") or 0)
        out.append({"benchmark": g.benchmark, "checks": checks, "passed": all(checks.values())})
    return out


def write_report(run_dir: Path, points: list[dict[str, Any]], benchmarks: list[str],
                 curves: dict[str, list[dict]], paired: dict[str, Any], gates: list[dict],
                 extra: dict[str, Any]) -> dict[str, Path]:
    png = plot(points, benchmarks, curves, run_dir / "report.png")
    md = ["# Pipeline report\n", markdown_table(points, benchmarks)]
    if paired:
        md.append("\nPaired difference, final - base (bootstrap 95% CI over the same questions):\n")
        for b, d in paired.items():
            if d:
                md.append(f"- {b}: {100 * d['diff']:+.1f} points [{100 * d['ci_low']:+.1f}, "
                          f"{100 * d['ci_high']:+.1f}] on {d['n']} questions\n")
    grpo = grpo_curves(curves)
    if grpo:
        md.append("\nGRPO (share of sampled completions in the strict format):\n")
    for name, recs in grpo:
        if any("format_compliance" in r for r in recs):
            first, last = recs[0].get("format_compliance"), recs[-1].get("format_compliance")
            md.append(f"- {name}: format compliance {first} at its first step, {last} at its last")
            change = compliance_change(recs)
            if change is not None:
                md.append(f"; mean {change[0]:.3f} over its first quarter of steps, "
                          f"{change[1]:.3f} over its last")
            md.append("\n")
    if gates:
        md.append("\nGates:\n")
        for g in gates:
            md.append(f"- {g['benchmark']}: {'PASS' if g['passed'] else 'FAIL'} "
                      + ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in g["checks"].items()) + "\n")
    md.append(f"\n![report]({png.name})\n")
    atomic_write_text(run_dir / "report.md", "".join(md))
    atomic_write_json(run_dir / "report.json", {"points": points, "paired": paired, "gates": gates,
                                                **extra})
    return {"markdown": run_dir / "report.md", "png": png, "json": run_dir / "report.json"}


def load_report(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "report.json").read_text())


def paired_difference(baseline_dir: Path, final_dir: Path, benchmark: str) -> dict[str, Any] | None:
    """final - baseline accuracy on the samples both answered, with the kit's paired
    bootstrap 95% interval (``lingshu eval compare``)."""
    from lingshu.eval import compare_runs

    for d in compare_runs(baseline_dir, final_dir):
        if d.benchmark == benchmark:
            return {"n": d.n_common, "baseline": d.acc_a, "final": d.acc_b, "diff": d.diff,
                    "ci_low": d.ci_low, "ci_high": d.ci_high}
    return None
