"""A report-generation benchmark through the runner: prepare IU-Xray from release-format
fixtures, answer with the dummy backend, and check the run's report metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data"))
from report_releases import iu_release  # noqa: E402, F401

from lingshu.data.prepare.iu_xray import prepare_iu_xray  # noqa: E402
from lingshu.eval import rundir  # noqa: E402
from lingshu.eval.config import EvalConfig  # noqa: E402
from lingshu.eval.metrics.reports import score_reports  # noqa: E402
from lingshu.eval.metrics.aggregate import latest_records  # noqa: E402
from lingshu.eval.runner import run_eval  # noqa: E402


def test_report_benchmark_end_to_end(iu_release, tmp_path):
    reports, png = iu_release
    data = tmp_path / "data"
    prepare_iu_xray(reports, png, data / "iu-xray", split="all")
    cfg = EvalConfig(
        benchmarks=["iu-xray"],
        data_dir=data,
        split="all",
        backend="dummy",
        report_metrics=["bleu", "rouge_l", "cider", "semb_score"],
        report_weights=None,
        bootstrap_resamples=200,
        cache_path=tmp_path / "c.sqlite",
    )
    res = run_eval(cfg, tmp_path / "run", progress=False)
    b = res.metrics["benchmarks"]["iu-xray"]
    recs = latest_records(rundir.load_records(tmp_path / "run"))
    assert recs and all(r["task"] == "report" for r in recs)
    assert recs[0]["prompt"][0]["content"][-1]["text"].startswith("You are a helpful assistant. Please generate a report")
    expected = score_reports([r["response"] for r in recs], [r["gold"] for r in recs], ["bleu", "rouge_l", "cider"])
    for key in ("bleu_4", "rouge_l", "cider"):
        key = key if key in expected.corpus else next(k for k in expected.corpus if k.startswith(key.split("_")[0]))
        v = b["report_metrics"][key]
        assert v["value"] == pytest.approx(expected.corpus[key])
        assert v["ci_low"] <= v["value"] <= v["ci_high"]
    assert b["accuracy"] is None
    # weights for SembScore (CheXbert) cannot exist here: marked unavailable, run finished
    assert "semb_score" in b["unavailable"]
    assert "Report generation" in (tmp_path / "run" / "summary.md").read_text()
