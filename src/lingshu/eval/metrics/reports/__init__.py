"""Report-generation metrics: lexical (BLEU-1..4, ROUGE-L, METEOR, CIDEr-D, agreeing with
pycocoevalcap) and clinical model-based (SembScore, BERTScore, RadGraph-F1, RadCliQ-v1,
RaTEScore, GREEN), with bootstrap confidence intervals.

>>> s = score_reports(["no acute disease ."], ["no acute cardiopulmonary disease ."], ["rouge_l"])
>>> round(s.corpus["rouge_l"], 4)
0.8356
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lingshu.core.errors import UserError
from lingshu.eval.metrics.reports import clinical as _clinical  # noqa: F401  (registers)
from lingshu.eval.metrics.reports import green as _green  # noqa: F401  (registers)
from lingshu.eval.metrics.reports import lexical as _lexical  # noqa: F401  (registers)
from lingshu.eval.metrics.reports import ratescore as _ratescore  # noqa: F401  (registers)
from lingshu.eval.metrics.reports.base import (
    REPORT_METRICS,
    MetricResult,
    MetricUnavailable,
    ReportContext,
    ReportMetric,
    ReportScores,
)
from lingshu.eval.metrics.reports.ci import bootstrap_report_ci
from lingshu.eval.metrics.reports.config import ReportMetricsConfig
from lingshu.eval.metrics.reports.tokenize import ptb_tokenize, ptb_tokenize_lines

log = logging.getLogger(__name__)

LEXICAL_METRICS = ("bleu", "rouge_l", "meteor", "cider")
DEFAULT_METRICS = (*LEXICAL_METRICS, "bertscore", "semb_score", "radgraph", "radcliq_v1", "ratescore", "green")


def score_reports(
    predictions: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[str] | None = None,
    config: Any = None,
) -> ReportScores:
    """Score predicted reports against references (one reference per prediction, same
    order). Metrics that cannot run (weights, Java missing) are listed in ``unavailable``
    with a one-line reason; the others are computed."""
    if len(predictions) != len(references):
        raise UserError(f"{len(predictions)} predictions but {len(references)} references; they must pair up")
    names = list(metrics) if metrics else list(DEFAULT_METRICS)
    impls = {name: REPORT_METRICS.get(name) for name in names}  # unknown names fail first
    ctx = ReportContext(predictions, references, ReportMetricsConfig.coerce(config))
    scores = ReportScores(per_sample=[{} for _ in predictions], corpus={})
    if not predictions:
        return scores
    try:
        for impl in impls.values():
            prepare = getattr(impl, "prepare", None)
            if prepare is not None:
                prepare(ctx)
        for name, impl in impls.items():
            try:
                result = ctx.result(name, impl)
            except MetricUnavailable as e:
                scores.unavailable[name] = str(e)
                log.warning("%s unavailable: %s", name, e)
                continue
            _merge(scores, result)
    finally:
        ctx.close()
    return scores


def _merge(scores: ReportScores, result: MetricResult) -> None:
    for key, values in result.per_sample.items():
        for row, v in zip(scores.per_sample, values, strict=True):
            row[key] = float(v)
    scores.corpus.update({k: float(v) for k, v in result.corpus.items()})
    scores.ci_method.update(result.ci_method)
    if result.resample is not None:
        for key in result.corpus:
            scores.resamplers[key] = result.resample


__all__ = [
    "DEFAULT_METRICS",
    "LEXICAL_METRICS",
    "REPORT_METRICS",
    "MetricResult",
    "MetricUnavailable",
    "ReportContext",
    "ReportMetric",
    "ReportMetricsConfig",
    "ReportScores",
    "bootstrap_report_ci",
    "ptb_tokenize",
    "ptb_tokenize_lines",
    "score_reports",
]
