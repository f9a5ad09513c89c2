"""Compare two runs (two models, or two profiles on the same model).

Per benchmark: accuracy of each run and the difference, with a paired bootstrap interval
over the samples both runs answered; and the samples on which the two disagree (one
correct and the other not, or different extracted answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.eval import rundir
from lingshu.eval.metrics.aggregate import latest_records
from lingshu.eval.metrics.bootstrap import bootstrap_mean


@dataclass
class BenchmarkDiff:
    benchmark: str
    n_common: int
    acc_a: float | None
    acc_b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    disagreements: list[dict[str, Any]] = field(default_factory=list)


def _scored(r: dict) -> bool:
    """Answered and verdict reached: model errors and judge errors are excluded."""
    return r.get("error") is None and r.get("correct") is not None


def compare_runs(run_a: Path, run_b: Path) -> list[BenchmarkDiff]:
    recs_a = {(r["benchmark"], r["sample_id"]): r for r in latest_records(rundir.load_records(run_a))}
    recs_b = {(r["benchmark"], r["sample_id"]): r for r in latest_records(rundir.load_records(run_b))}
    benches = sorted({k[0] for k in recs_a} | {k[0] for k in recs_b})
    out = []
    for bench in benches:
        keys = sorted(
            (k for k in recs_a if k[0] == bench and k in recs_b and _scored(recs_a[k]) and _scored(recs_b[k])),
            key=lambda k: recs_a[k]["index"],
        )
        if not keys:
            out.append(BenchmarkDiff(bench, 0, None, None, None, None, None))
            continue
        a = np.array([1.0 if recs_a[k]["correct"] else 0.0 for k in keys])
        b = np.array([1.0 if recs_b[k]["correct"] else 0.0 for k in keys])
        est = bootstrap_mean(b - a, label=f"compare/{bench}")
        dis = []
        for k in keys:
            ra, rb = recs_a[k], recs_b[k]
            if ra["correct"] != rb["correct"] or ra.get("extracted") != rb.get("extracted"):
                dis.append(
                    {
                        "sample_id": k[1],
                        "gold": ra.get("gold"),
                        "a": {"extracted": ra.get("extracted"), "correct": ra["correct"], "response": ra.get("response")},
                        "b": {"extracted": rb.get("extracted"), "correct": rb["correct"], "response": rb.get("response")},
                    }
                )
        out.append(
            BenchmarkDiff(bench, len(keys), float(a.mean()), float(b.mean()), est.mean, est.low, est.high, dis)
        )
    return out
