"""Compare two runs (two models, or two profiles on the same model).

Per benchmark: accuracy of each run and the difference, with a paired bootstrap interval
over the samples both runs answered; and the samples on which the two disagree (one
correct and the other not, or different extracted answers).

Samples are paired by id. When the ids do not match (a run on the VQA-RAD release has
qids, one on its Hugging Face export ``hf-test-N``) and pairing by content finds more
pairs, they are paired by content instead: the question text (case and whitespace
ignored) and the sha256 of each image file (a file that can no longer be read counts by
its name). Repeated content is paired in order of occurrence. ``BenchmarkDiff.matched_by`` says which pairing was used.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

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
    matched_by: Literal["id", "content"] = "id"


def _scored(r: dict) -> bool:
    """Answered and verdict reached: model errors and judge errors are excluded."""
    return r.get("error") is None and r.get("correct") is not None


@lru_cache(maxsize=65536)
def _image_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return f"unreadable:{Path(path).name}"


def content_key(record: dict) -> tuple[str, tuple[str, ...]]:
    """What identifies a sample across releases: its question (case and whitespace
    ignored: exports retype neither reliably) and the bytes of its images."""
    question = " ".join(str(record.get("question") or "").lower().split())
    return question, tuple(_image_digest(str(p)) for p in record.get("images") or ())


def _pairs_by_content(a: list[dict], b: list[dict]) -> list[tuple[dict, dict]]:
    pool: dict[tuple, list[dict]] = defaultdict(list)
    for r in b:
        pool[content_key(r)].append(r)
    pairs = []
    for r in a:
        queue = pool.get(content_key(r))
        if queue:
            pairs.append((r, queue.pop(0)))
    return pairs


def _pairs(a: list[dict], b: list[dict]) -> tuple[list[tuple[dict, dict]], str]:
    by_id_b = {r["sample_id"]: r for r in b}
    by_id = [(r, by_id_b[r["sample_id"]]) for r in a if r["sample_id"] in by_id_b]
    if len(by_id) == min(len(a), len(b)):
        return by_id, "id"
    by_content = _pairs_by_content(a, b)
    if len(by_content) > len(by_id):
        return by_content, "content"
    return by_id, "id"


def _side(r: dict) -> dict[str, Any]:
    return {"extracted": r.get("extracted"), "correct": r["correct"], "response": r.get("response")}


def compare_runs(run_a: Path, run_b: Path) -> list[BenchmarkDiff]:
    recs_a = [r for r in latest_records(rundir.load_records(run_a)) if _scored(r)]
    recs_b = [r for r in latest_records(rundir.load_records(run_b)) if _scored(r)]
    benches = sorted({r["benchmark"] for r in recs_a} | {r["benchmark"] for r in recs_b})
    out = []
    for bench in benches:
        pairs, matched_by = _pairs(
            [r for r in recs_a if r["benchmark"] == bench],
            [r for r in recs_b if r["benchmark"] == bench],
        )
        if not pairs:
            out.append(BenchmarkDiff(bench, 0, None, None, None, None, None))
            continue
        pairs.sort(key=lambda p: p[0]["index"])
        a = np.array([1.0 if ra["correct"] else 0.0 for ra, _ in pairs])
        b = np.array([1.0 if rb["correct"] else 0.0 for _, rb in pairs])
        est = bootstrap_mean(b - a, label=f"compare/{bench}")
        dis = []
        for ra, rb in pairs:
            if ra["correct"] != rb["correct"] or ra.get("extracted") != rb.get("extracted"):
                item = {
                    "sample_id": ra["sample_id"],
                    "gold": ra.get("gold"),
                    "a": _side(ra),
                    "b": _side(rb),
                }
                if matched_by == "content":
                    item["sample_id_b"] = rb["sample_id"]
                dis.append(item)
        out.append(
            BenchmarkDiff(
                bench, len(pairs), float(a.mean()), float(b.mean()), est.mean, est.low, est.high,
                dis, matched_by,
            )
        )
    return out
