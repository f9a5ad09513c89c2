"""Human-readable results: the terminal table, ``summary.md``, comparison with the paper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lingshu.core.io import atomic_write_text
from lingshu.eval import rundir
from lingshu.eval.config import EvalConfig
from lingshu.eval.published import paper_row, published_accuracy


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}"


def acc_ci(b: dict[str, Any]) -> str:
    if b.get("accuracy") is None:
        return "-"
    return f"{pct(b['accuracy'])} [{pct(b['ci_low'])}, {pct(b['ci_high'])}]"


def _closed_open(b: dict[str, Any], kind: str) -> str:
    sub = b.get("breakdowns", {}).get("answer_type", {}).get(kind)
    return pct(sub["accuracy"]) if sub and sub.get("accuracy") is not None else "-"


def errors_cell(b: dict[str, Any]) -> str:
    """Failed model requests, plus judge errors when there are any (both excluded)."""
    judge = b.get("n_judge_errors") or 0
    return f"{b['n_errors']} (+{judge} judge)" if judge else str(b["n_errors"])


def summary_rows(cfg: EvalConfig, metrics: dict[str, Any]) -> list[list[str]]:
    model = cfg.backend_options.get("model")
    rows = []
    for name, b in metrics["benchmarks"].items():
        pub = published_accuracy(model, name)
        rows.append(
            [
                name,
                str(b["n"]),
                acc_ci(b),
                pct(b["invalid_rate"]),
                errors_cell(b),
                _closed_open(b, "closed"),
                _closed_open(b, "open"),
                "-" if pub is None else f"{pub:.1f}",
            ]
        )
    return rows


HEADERS = ["benchmark", "n", "accuracy % [95% CI]", "invalid %", "errors", "closed %", "open %", "paper %"]


def report_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """One row per (report benchmark, metric): value x100 with its 95% CI, as the paper."""
    rows = []
    for name, b in metrics["benchmarks"].items():
        for key, v in (b.get("report_metrics") or {}).items():
            ci = f" [{pct(v['ci_low'])}, {pct(v['ci_high'])}]" if "ci_low" in v else ""
            rows.append([name, key, f"{pct(v['value'])}{ci}", str(b["n_scored"])])
        for key, reason in (b.get("unavailable") or {}).items():
            rows.append([name, key, f"unavailable: {reason}", "-"])
    return rows


REPORT_HEADERS = ["benchmark", "metric", "x100 [95% CI]", "n"]


def judge_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """One row per benchmark with a judge block: what the judge decided, its errors, both
    accuracies and their agreement (docs/judge.md)."""
    rows = []
    for name, b in metrics["benchmarks"].items():
        j = b.get("judge")
        if not j:
            continue
        errors = str(j["n_judge_errors"])
        if j["n_judge_errors"]:
            errors += (
                f" ({j['n_judge_errors_request']} failed, "
                f"{j['n_judge_errors_unparseable']} unparseable)"
            )
        kappa = "-" if j["kappa"] is None else f"{j['kappa']:.3f}"
        rows.append(
            [
                name,
                str(j["n_judged"]),
                errors,
                pct(j["accuracy_rule"]),
                pct(j["accuracy_judge"]),
                kappa,
                str(j["n_disagreements"]),
            ]
        )
    return rows


JUDGE_HEADERS = ["benchmark", "judged", "judge errors", "rule acc %", "judge acc %", "kappa", "disagree"]
JUDGE_ERRORS_NOTE = "; +N judge = judge errors (excluded from accuracy)"
JUDGE_NOTE = (
    "judge errors (failed requests, unparseable verdicts) are excluded from accuracy; "
    "rerun the same command to retry failed requests"
)


def print_summary(cfg: EvalConfig, metrics: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    row = paper_row(cfg.backend_options.get("model"))
    # The model may be a long path: a line of its own, never wrapped into a table title.
    console.print(
        f"profile={cfg.profile}  backend={cfg.backend}  model={cfg.backend_options.get('model', '-')}",
        soft_wrap=True,
        highlight=False,
    )
    table = Table()
    rows = summary_rows(cfg, metrics)
    # Columns with nothing to show (closed/open on MCQ-only runs, paper numbers for other
    # models) are left out of the terminal table; summary.md keeps every column.
    keep = [i for i, h in enumerate(HEADERS) if i < 5 or any(r[i] != "-" for r in rows)]
    for i in keep:
        table.add_column(HEADERS[i], justify="left" if i == 0 else "right", no_wrap=i == 0)
    for r in rows:
        table.add_row(*(r[i] for i in keep))
    console.print(table)
    rrows = report_rows(metrics)
    if rrows:
        rtable = Table(title="Report generation")
        for h in REPORT_HEADERS:
            rtable.add_column(h)
        for r in rrows:
            rtable.add_row(*r)
        console.print(rtable)
    jrows = judge_rows(metrics)
    if jrows:
        jtable = Table(title="LLM judge (accuracy uses its verdicts where it judged)")
        for h in JUDGE_HEADERS:
            jtable.add_column(h, justify="left" if h == "benchmark" else "right")
        for r in jrows:
            jtable.add_row(*r)
        console.print(jtable)
        if any(b.get("judge", {}).get("n_judge_errors") for b in metrics["benchmarks"].values()):
            console.print(JUDGE_NOTE)
    if metrics.get("macro_accuracy") is not None:
        console.print(f"macro accuracy: {pct(metrics['macro_accuracy'])}%")
    if row:
        console.print(f"'paper %' = published accuracy of {row} (Lingshu paper).")


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def render_markdown(cfg: EvalConfig, metrics: dict[str, Any]) -> str:
    parts = [
        "# Evaluation summary",
        "",
        f"- profile: `{cfg.profile}`; backend: `{cfg.backend}`; model: `{cfg.backend_options.get('model', '-')}`",
        f"- split: `{cfg.split or 'paper default'}`; limit: `{cfg.limit}`; shard: `{cfg.shard or '-'}`",
        f"- confidence intervals: percentile bootstrap, {metrics['bootstrap']['resamples']} resamples, seed {metrics['bootstrap']['seed']}",
        "- invalid = the answer could not be parsed (counted wrong); errors = failed requests (excluded from accuracy)"
        + (JUDGE_ERRORS_NOTE if any(b.get("judge") for b in metrics["benchmarks"].values()) else ""),
        "",
        _md_table(HEADERS, summary_rows(cfg, metrics)),
        "",
    ]
    rrows = report_rows(metrics)
    if rrows:
        parts += ["## Report generation", "", _md_table(REPORT_HEADERS, rrows), ""]
    jrows = judge_rows(metrics)
    if jrows:
        parts += _judge_markdown(metrics, jrows)
    if metrics.get("macro_accuracy") is not None:
        parts += [f"Macro accuracy: **{pct(metrics['macro_accuracy'])}%**", ""]
    for name, b in metrics["benchmarks"].items():
        if b.get("open_scores"):
            parts += [f"## {name}: open-answer scores", ""]
            rows = [
                [k, f"{pct(v['mean'])} [{pct(v['ci_low'])}, {pct(v['ci_high'])}]", str(v["n"])]
                for k, v in b["open_scores"].items()
            ]
            parts += [_md_table(["metric", "mean % [95% CI]", "n"], rows), ""]
        for key, groups in b.get("breakdowns", {}).items():
            parts += [f"## {name}: by {key}", ""]
            rows = [
                [value, str(g["n"]), acc_ci(g), pct(g["invalid_rate"]), errors_cell(g)]
                for value, g in groups.items()
            ]
            parts += [_md_table([key, "n", "accuracy % [95% CI]", "invalid %", "errors"], rows), ""]
    return "\n".join(parts)


_SHOWN = 10  # disagreements and errors listed per benchmark in summary.md


def _cell(text: Any, limit: int = 120) -> str:
    s = " ".join(str(text if text is not None else "-").split()).replace("|", "\\|")
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _judge_markdown(metrics: dict[str, Any], rows: list[list[str]]) -> list[str]:
    parts = [
        "## LLM judge",
        "",
        "- accuracy above uses the judge's verdict wherever it judged; rule acc % is the same "
        "samples scored by the profile's rules; kappa = Cohen's kappa of rule vs judge over "
        "the judged samples",
        f"- {JUDGE_NOTE}",
        "",
        _md_table(JUDGE_HEADERS, rows),
        "",
    ]
    for name, b in metrics["benchmarks"].items():
        j = b.get("judge")
        if not j:
            continue
        if j["disagreements"]:
            parts += [f"### {name}: rule vs judge disagreements (first {_SHOWN} of {j['n_disagreements']})", ""]
            table = [
                [_cell(d["sample_id"], 40), _cell(d["gold"], 40), _cell(d["response"], 60),
                 "correct" if d["rule_correct"] else "wrong",
                 "correct" if d["judge_verdict"] else "wrong", _cell(d["rationale"])]
                for d in j["disagreements"][:_SHOWN]
            ]  # fmt: skip
            headers = ["sample", "gold", "response", "rule", "judge", "judge's rationale"]
            parts += [_md_table(headers, table), ""]
        if j["errors"]:
            parts += [f"### {name}: judge errors (first {_SHOWN} of {len(j['errors'])})", ""]
            table = [[_cell(e["sample_id"], 40), _cell(e["error"], 200)] for e in j["errors"][:_SHOWN]]
            parts += [_md_table(["sample", "error"], table), ""]
    return parts


def write_summary(run_dir: Path, cfg: EvalConfig, metrics: dict[str, Any]) -> None:
    """``summary.md``, ``metrics.csv`` and the PNGs under ``plots/``."""
    from lingshu.eval.plots import write_figures_and_table

    atomic_write_text(Path(run_dir) / rundir.SUMMARY, render_markdown(cfg, metrics))
    write_figures_and_table(run_dir, metrics)
