"""Evaluation after a stage: the evaluation kit's ``run_eval`` on the pipeline's benchmarks.

Nothing here scores anything: the registered benchmarks load the samples, the ``strict``
profile builds the prompts and scores the answers, the ``hf`` inference backend answers
them, and the kit writes its usual run folder (per-sample records, metrics with bootstrap
CIs, summary). The pipeline keeps the folder so the table, the plot and the paired
comparisons are computed from those records alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def evaluate_model(model: Path, evaluation: Any, out_dir: Path, *, progress: bool = True) -> dict[str, Any]:
    """Evaluate ``model`` (a Hugging Face folder or alias) into ``out_dir``; return the
    per-benchmark accuracy, CI and invalid rate."""
    from lingshu.eval.config import EvalConfig
    from lingshu.eval.runner import run_eval
    from lingshu.inference import GenerationParams
    from lingshu.models.precision import resolve_dtype_name

    options: dict[str, Any] = {"model": str(model), "batch_size": evaluation.batch_size,
                               "device": "cpu", "dtype": resolve_dtype_name(evaluation.dtype, "cpu")}
    if evaluation.min_pixels:
        options["min_pixels"] = evaluation.min_pixels
    if evaluation.max_pixels:
        options["max_pixels"] = evaluation.max_pixels
    names = [b.name for b in evaluation.benchmarks]
    cfg = EvalConfig(
        benchmarks=names,
        data_dir=evaluation.data_dir,
        split={b.name: b.split for b in evaluation.benchmarks if b.split} or None,
        limit={b.name: b.limit for b in evaluation.benchmarks if b.limit} or None,
        profile="strict",
        backend="hf",
        backend_options=options,
        generation=GenerationParams(max_new_tokens=evaluation.max_new_tokens),
        bootstrap_resamples=evaluation.bootstrap_resamples,
    )
    result = run_eval(cfg, out_dir, progress=progress)
    out: dict[str, Any] = {}
    for name, m in result.metrics["benchmarks"].items():
        out[name] = {k: m.get(k) for k in ("n", "accuracy", "ci_low", "ci_high", "invalid_rate")}
        for key, groups in (m.get("breakdowns") or {}).items():
            if key == "question":
                out[name]["by_question"] = {v: g.get("accuracy") for v, g in groups.items()}
    return out


def paired_difference(baseline_dir: Path, final_dir: Path, benchmark: str) -> dict[str, Any] | None:
    """final - baseline accuracy on the samples both answered, with the kit's paired
    bootstrap 95% interval (``lingshu eval compare``)."""
    from lingshu.eval.compare import compare_runs

    for d in compare_runs(baseline_dir, final_dir):
        if d.benchmark == benchmark:
            return {"n": d.n_common, "baseline": d.acc_a, "final": d.acc_b, "diff": d.diff,
                    "ci_low": d.ci_low, "ci_high": d.ci_high}
    return None
