"""Every run directory gets plots (accuracy with CIs, invalid rate, per-category
breakdowns) and a flat metrics.csv whose numbers are those of metrics.json (issue 9)."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from lingshu.eval.config import EvalConfig
from lingshu.eval.runner import run_eval


def test_run_writes_plots_and_a_flat_metrics_csv(data_dir, tmp_path):
    cfg = EvalConfig(benchmarks=["medqa-usmle", "mmlu-med"], data_dir=data_dir, backend="dummy",
                     limit=12, use_cache=False, bootstrap_resamples=100,
                     split={"mmlu-med": "val"})  # fmt: skip
    run = tmp_path / "run"
    run_eval(cfg, run, progress=False)
    metrics = json.loads((run / "metrics.json").read_text())

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert rows and set(rows[0]) == {"benchmark", "breakdown", "group", "metric", "value", "ci_low", "ci_high", "n"}
    for bench, b in metrics["benchmarks"].items():
        overall = {r["metric"]: r for r in rows if r["benchmark"] == bench and r["breakdown"] == ""}
        assert float(overall["accuracy"]["value"]) == pytest.approx(b["accuracy"])
        assert float(overall["accuracy"]["ci_low"]) == pytest.approx(b["ci_low"])
        assert float(overall["invalid_rate"]["value"]) == pytest.approx(b["invalid_rate"])
        assert int(overall["accuracy"]["n"]) == b["n"]
        for key, groups in (b.get("breakdowns") or {}).items():
            for group, g in groups.items():
                match = [r for r in rows if (r["benchmark"], r["breakdown"], r["group"], r["metric"])
                         == (bench, key, str(group), "accuracy")]  # fmt: skip
                assert len(match) == 1 and float(match[0]["value"]) == pytest.approx(g["accuracy"])

    plots = run / "plots"
    expected = {"accuracy.png", "invalid_rate.png"}
    for bench, b in metrics["benchmarks"].items():
        for key, groups in (b.get("breakdowns") or {}).items():
            if len(groups) >= 2:
                expected.add(f"{bench}-{key}.png")
    assert len(expected) > 2, "the fixture should exercise a breakdown plot"
    assert {p.name for p in plots.iterdir()} == expected
    for p in plots.iterdir():
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 300
