"""A warning about the data ("loaded N samples, the paper's split has M; not comparable") is
logged once per process, not at every evaluation: a pipeline evaluates the base model, each
stage and the final model in one process and logged the same line 5+ times."""

from __future__ import annotations

import logging

from lingshu.core.logs import forget_warnings
from lingshu.eval.config import EvalConfig
from lingshu.eval.runner import run_eval

LINE = "medqa-usmle: loaded 100 samples, the paper's"  # the bundled copy: 100 of 1273


def test_two_evaluations_in_one_process_warn_once(data_dir, tmp_path, caplog):
    forget_warnings()
    cfg = EvalConfig(benchmarks=["medqa-usmle"], data_dir=data_dir, backend="dummy", limit=4,
                     cache_path=tmp_path / "c.sqlite", bootstrap_resamples=100)
    with caplog.at_level(logging.WARNING):
        for run in ("base", "stage1"):  # two checkpoints' evaluations
            run_eval(cfg, tmp_path / run, progress=False)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(LINE)]
    assert len(lines) == 1, lines
    assert "has 1273; results are not comparable with published numbers" in lines[0]


def test_a_fresh_process_warns_again(data_dir, tmp_path, caplog):
    """What a new process sees (``forget_warnings``): the line is logged, not lost."""
    from lingshu.eval.benchmarks import get_benchmark

    forget_warnings()
    with caplog.at_level(logging.WARNING):
        get_benchmark("medqa-usmle").load(data_dir)
        forget_warnings()
        get_benchmark("medqa-usmle").load(data_dir)
    assert sum(m.startswith(LINE) for m in caplog.messages) == 2
