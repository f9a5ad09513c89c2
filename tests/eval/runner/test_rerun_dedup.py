"""Rerunning a run whose records include failed samples retries them and leaves one line
per sample in ``samples/<bench>.jsonl`` (docs/evaluation.md), not the error plus the retry."""

from __future__ import annotations

import json

from lingshu.inference import Backend
from lingshu.eval.benchmarks import get_benchmark
from lingshu.eval.config import EvalConfig
from lingshu.eval.runner import run_eval
from lingshu.eval.types import Response

BENCH = "medqa-usmle"


class FlakyBackend(Backend):
    name = "flaky"

    def __init__(self, fail_ids=()):
        self.fail_ids = set(fail_ids)
        self.asked: list[str] = []

    def fingerprint(self):
        return {"name": "flaky"}

    def generate(self, requests, params):
        self.asked += [r.id for r in requests]
        return [Response(error="boom") if r.id in self.fail_ids else Response(text="A") for r in requests]


def test_retried_failures_leave_one_line_per_sample(data_dir, tmp_path):
    cfg = EvalConfig(benchmarks=[BENCH], data_dir=data_dir, backend="dummy", limit=8,
                     cache_path=tmp_path / "c.sqlite", bootstrap_resamples=100)
    ids = [s.id for s in get_benchmark(BENCH).load(data_dir)[:8]]
    run = tmp_path / "run"
    run_eval(cfg, run, backend=FlakyBackend(fail_ids=ids[2:5]), progress=False)
    healed = FlakyBackend()
    metrics = run_eval(cfg, run, backend=healed, progress=False).metrics["benchmarks"][BENCH]
    assert sorted(healed.asked) == sorted(ids[2:5])  # only the failed ones were retried
    lines = (run / "samples" / f"{BENCH}.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    assert len(lines) == 8 and sorted(r["sample_id"] for r in recs) == sorted(ids)
    assert all(r["error"] is None for r in recs)
    assert [r["index"] for r in recs] == list(range(8))
    assert metrics["n"] == 8 and metrics["n_errors"] == 0
