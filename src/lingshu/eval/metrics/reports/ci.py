"""95% percentile-bootstrap confidence intervals for report metrics.

Studies are resampled with replacement (one index matrix shared by all metrics of a call,
seeded like ``lingshu.eval.metrics.bootstrap`` so intervals are reproducible). Each corpus
value is recomputed on every resample the way the reference tool computes it where that
is feasible: corpus BLEU from summed statistics, CIDEr-D with document frequencies
recounted on the resample, 1/mean for RadCliQ-v1. Metrics whose corpus value is a mean of
per-sample values (ROUGE-L, BERTScore, SembScore, RadGraph, RaTEScore, GREEN) use the mean
of the resample; METEOR, whose jar aggregates statistics, also uses the per-sample mean
(running the jar a thousand times is not feasible), shifted so that the interval is centred
on the jar's corpus value ("shifted-mean") - documented in docs/report-metrics.md.
"""

from __future__ import annotations

import zlib

import numpy as np

from lingshu.eval.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, Estimate
from lingshu.eval.metrics.reports.base import ReportScores


def resample_weights(n: int, n_resamples: int, seed: int, label: str) -> np.ndarray:
    """(n_resamples, n) draw counts: how often each study is drawn in each resample."""
    rng = np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])
    w = np.empty((n_resamples, n), dtype=np.float64)
    for r in range(n_resamples):
        w[r] = np.bincount(rng.integers(0, n, size=n), minlength=n)
    return w


def bootstrap_report_ci(
    scores: ReportScores,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    label: str = "reports",
) -> dict[str, Estimate]:
    """An ``Estimate`` (corpus value, CI low, CI high, n) for every corpus value of
    ``scores``; the point estimate is the corpus value itself, not a resample mean."""
    n = len(scores.per_sample)
    if n == 0:
        return {}
    w = resample_weights(n, n_resamples, seed, label)
    alpha = (1.0 - level) / 2.0
    done: dict[str, np.ndarray] = {}
    for resample in {id(r): r for r in scores.resamplers.values()}.values():
        done.update(resample(w))
    out: dict[str, Estimate] = {}
    for key, value in scores.corpus.items():
        method = scores.ci_method.get(key, "mean")
        if method == "corpus" and key in done:
            dist = done[key]
        else:
            src = scores.ci_method.get(f"{key}:source", key)
            vals = np.array([s.get(src, np.nan) for s in scores.per_sample], dtype=np.float64)
            ok = ~np.isnan(vals)
            if not ok.any():
                continue
            sub = w[:, ok]
            means = (sub @ vals[ok]) / np.maximum(sub.sum(axis=1), 1e-300)
            if method == "inverse-mean":
                dist = 1.0 / means
            elif method == "shifted-mean":  # corpus value != mean of per-sample values
                dist = means - float(vals[ok].mean()) + float(value)
            else:
                dist = means
        low, high = np.quantile(dist, [alpha, 1.0 - alpha])
        out[key] = Estimate(float(value), float(low), float(high), n)
    return out
