"""The evaluation kit: benchmarks, prompt-and-scoring profiles, the resumable runner,
report metrics, the LLM judge, comparing and merging runs (docs/evaluation.md).

This is the area's face: other areas (training's evaluation after a stage, the pipeline,
curation's decontamination, the CLI, bench/ scripts) import from ``lingshu.eval`` only;
the submodules are the kit's own business and may move. Names load on first use, so that
importing the face costs nothing: ``lingshu --help`` and GRPO's reward normaliser must not
pay for the benchmarks, the report metrics or the backends.

- run: ``EvalConfig``, ``Shard``, ``run_eval``, ``RunResult``, ``check_names``,
  ``run_data_parallel``, ``rundir`` (a run directory's layout and readers);
- results: ``compare_runs``, ``merge_runs``, ``print_summary``, ``write_summary``, ``pct``,
  ``score_report_files``;
- registries: ``BENCHMARKS`` / ``get_benchmark`` / ``Benchmark``, ``PROFILES`` /
  ``get_profile`` / ``Profile``, ``REPORT_METRICS`` (``DEFAULT_REPORT_METRICS``,
  ``ReportContext``, ``ReportMetricsConfig``; the bundled IU-Xray corpus through
  ``load_iu_reports`` / ``findings_impression_pairs``), ``JudgeScope``, and the listings
  ``benchmark_rows``, ``profile_rows``, ``metric_rows``, ``backend_rows``,
  ``judge_prompt_rows``;
- data: ``Sample``, ``Verdict``, ``GenerationParams`` (the inference layer's);
- scoring: ``normalize_answer`` / ``answer_tokens`` (the one answer normaliser, also
  used by the GRPO accuracy reward), ``extract_choice``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "EvalConfig": "lingshu.eval.config",
    "Shard": "lingshu.eval.config",
    "run_eval": "lingshu.eval.runner",
    "RunResult": "lingshu.eval.runner",
    "check_names": "lingshu.eval.planning",
    "run_data_parallel": "lingshu.eval.parallel",
    "compare_runs": "lingshu.eval.compare",
    "merge_runs": "lingshu.eval.merge",
    "print_summary": "lingshu.eval.report",
    "write_summary": "lingshu.eval.report",
    "pct": "lingshu.eval.report",
    "score_report_files": "lingshu.eval.score_reports",
    "BENCHMARKS": "lingshu.eval.benchmarks",
    "Benchmark": "lingshu.eval.benchmarks",
    "get_benchmark": "lingshu.eval.benchmarks",
    "PROFILES": "lingshu.eval.prompts",
    "Profile": "lingshu.eval.prompts",
    "get_profile": "lingshu.eval.prompts",
    "prompt_identity": "lingshu.eval.cache",
    "REPORT_METRICS": "lingshu.eval.metrics.reports",
    "DEFAULT_REPORT_METRICS": "lingshu.eval.metrics.reports",
    "ReportContext": "lingshu.eval.metrics.reports",
    "ReportMetricsConfig": "lingshu.eval.metrics.reports",
    "findings_impression_pairs": "lingshu.eval.metrics.reports.corpus",
    "load_iu_reports": "lingshu.eval.metrics.reports.corpus",
    "JudgeScope": "lingshu.eval.judge.config",
    "benchmark_rows": "lingshu.eval.catalog",
    "profile_rows": "lingshu.eval.catalog",
    "metric_rows": "lingshu.eval.catalog",
    "judge_prompt_rows": "lingshu.eval.catalog",
    "backend_rows": "lingshu.eval.catalog",
    "Sample": "lingshu.eval.types",
    "Verdict": "lingshu.eval.types",
    "GenerationParams": "lingshu.eval.types",
    "normalize_answer": "lingshu.eval.scoring.normalize",
    "answer_tokens": "lingshu.eval.scoring.normalize",
    "extract_choice": "lingshu.eval.scoring.extract",
}
_RENAMED = {"score_report_files": "score_files", "DEFAULT_REPORT_METRICS": "DEFAULT_METRICS"}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lingshu.eval' has no attribute {name!r}")
    # Not cached in this module's namespace: a test that patches ``runner.run_eval`` is
    # seen by every caller of ``lingshu.eval.run_eval``.
    return getattr(importlib.import_module(module), _RENAMED.get(name, name))


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
