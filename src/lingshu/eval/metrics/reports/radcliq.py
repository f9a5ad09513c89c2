"""RadCliQ-v1 (Yu et al., Patterns 2023): a linear combination of four report metrics.

Per sample, the CXR-Report-Metric code (rajpurkarlab/CXR-Report-Metric,
CXRMetric/run_eval.py, class ``CompositeMetric`` loaded from CXRMetric/radcliq-v1.pkl)
standardises the sub-metrics in the column order [radgraph_combined, bertscore,
semb_score, bleu_score] with a fitted StandardScaler, appends 1 for the intercept and takes
the dot product with the fitted coefficients. Lower is better; the Lingshu paper reports
1 / (mean RadCliQ-v1 over the test set), higher is better. The fitted values below are the
pickle's contents as published in jbdel/RadEval (RadEval/metrics/RadCliQv1/radcliq.py).

``bleu_score`` is the CXR-Report-Metric BLEU-2, which is *not* the COCO BLEU: reports are
lower-cased, "." is split off, tokens are split on single spaces, and fast_bleu's sentence
BLEU-2 (NLTK method-1 smoothing: a zero precision becomes 0.1/count) is used.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

COLUMNS = ("radgraph_combined", "bertscore", "semb_score", "bleu_score")
SCALER_MEAN = np.array([0.53792312, 0.61757256, 0.76479421, 0.44738335])
SCALER_SCALE = np.array([0.30282584, 0.22430938, 0.25394391, 0.29892717])
COEFS = np.array([-3.77083683e-01, -3.70300100e-01, -2.52616218e-01, 4.31504841e-12])
INTERCEPT = 2.46655256e-10


def radcliq_v1(radgraph: Sequence[float], bertscore: Sequence[float], semb: Sequence[float],
               bleu2: Sequence[float]) -> np.ndarray:
    """Per-sample RadCliQ-v1 from the four sub-metrics (each one value per sample)."""
    x = np.column_stack([np.asarray(v, dtype=np.float64) for v in (radgraph, bertscore, semb, bleu2)])
    z = (x - SCALER_MEAN) / SCALER_SCALE
    return z @ COEFS + INTERCEPT


def inverse_mean(values: Sequence[float] | np.ndarray) -> float:
    """1 / mean(RadCliQ-v1): the number the Lingshu paper reports (x100 in its tables)."""
    m = float(np.mean(np.asarray(values, dtype=np.float64)))
    return 1.0 / m if m != 0 else float("nan")


def _prep(report: str) -> list[str]:
    # CXR-Report-Metric run_eval.prep_reports
    return [t for t in str(report).lower().replace(".", " .").split(" ") if t != ""]


def _modified_precision(hyp: list[str], ref: list[str], n: int) -> tuple[int, int]:
    h = Counter(tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1))
    r = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
    num = sum(min(c, r[g]) for g, c in h.items())
    return num, max(1, sum(h.values()))


def cxr_bleu2(prediction: str, reference: str) -> float:
    """The ``bleu_score`` sub-metric: fast_bleu BLEU-2 of one report against one reference
    (weights 0.5/0.5, smoothing method 1, brevity penalty against the reference length)."""
    hyp, ref = _prep(prediction), _prep(reference)
    p = [_modified_precision(hyp, ref, n) for n in (1, 2)]
    if p[0][0] == 0:
        return 0.0
    hl, rl = len(hyp), len(ref)
    bp = 1.0 if hl > rl else (0.0 if hl == 0 else math.exp(1 - rl / hl))
    s = 0.0
    for num, den in p:
        # method 1: a zero count becomes epsilon 0.1, i.e. the fraction 1 / (10 * count)
        s += 0.5 * math.log(num / den if num else 1 / (10 * den))
    return bp * math.exp(s)
