"""RadCliQ-v1's combination and its BLEU-2 sub-metric against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lingshu.eval.metrics.reports.radcliq import cxr_bleu2, inverse_mean, radcliq_v1


def test_combination_hand_worked():
    # Sample 1: radgraph 0.5, bertscore 0.6, semb 0.7, bleu2 0.4, standardised with the
    # published scaler, dotted with the published coefficients, plus the intercept.
    z = [
        (0.5 - 0.53792312) / 0.30282584,
        (0.6 - 0.61757256) / 0.22430938,
        (0.7 - 0.76479421) / 0.25394391,
        (0.4 - 0.44738335) / 0.29892717,
    ]
    expected1 = -0.377083683 * z[0] - 0.3703001 * z[1] - 0.252616218 * z[2] + 4.31504841e-12 * z[3] + 2.46655256e-10
    # Sample 2: all sub-metrics at the scaler mean -> only the intercept remains.
    out = radcliq_v1([0.5, 0.53792312], [0.6, 0.61757256], [0.7, 0.76479421], [0.4, 0.44738335])
    assert out[0] == pytest.approx(expected1, rel=1e-12)
    assert out[1] == pytest.approx(2.46655256e-10, abs=1e-15)
    assert expected1 == pytest.approx(0.1407, abs=1e-4)  # by hand: 0.0472 + 0.0290 + 0.0645


def test_worse_reports_score_higher_and_inverse_mean():
    bad = radcliq_v1([0.1], [0.2], [0.3], [0.1])[0]
    good = radcliq_v1([0.9], [0.9], [0.95], [0.8])[0]
    assert bad > 0 > good  # lower is better
    assert inverse_mean([2.0, 1.0]) == pytest.approx(1 / 1.5)
    assert math.isnan(inverse_mean(np.array([1.0, -1.0])))


def test_cxr_bleu2_hand_worked():
    # prep: lower-case, "." split off: hyp [heart, normal, .], ref [heart, size, normal, .]
    # p1 = 3/3, p2 = 1/2 ("normal ."), brevity exp(1 - 4/3)
    assert cxr_bleu2("Heart normal.", "Heart size normal.") == pytest.approx(math.exp(1 - 4 / 3) * math.sqrt(0.5))
    # no bigram match: method-1 smoothing 0.1 / 1; equal lengths -> bp = exp(0) = 1
    assert cxr_bleu2("lungs clear", "clear lungs") == pytest.approx(math.sqrt(0.1))
    assert cxr_bleu2("nothing", "something else") == 0.0  # no unigram match
    assert cxr_bleu2("", "x") == 0.0
