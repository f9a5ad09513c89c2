"""Bootstrap CIs: corpus metrics recomputed per resample, reproducible, sensible."""

from __future__ import annotations

import numpy as np
import pytest

from lingshu.eval.metrics.reports import bootstrap_report_ci, score_reports
from lingshu.eval.metrics.reports.base import ReportScores
from lingshu.eval.metrics.reports.cider import CiderResampler, cider_d
from lingshu.eval.metrics.reports.tokenize import ptb_tokenize_lines


def test_resamplers_reproduce_the_corpus_value_on_the_full_sample(coco_golden):
    preds, refs = coco_golden["predictions"][:60], coco_golden["references"][:60]
    s = score_reports(preds, refs, ["bleu", "cider"])
    ones = np.ones((1, len(preds)))
    assert s.resamplers["cider"](ones)["cider"][0] == pytest.approx(s.corpus["cider"], abs=1e-12)
    out = s.resamplers["bleu1"](ones)
    for k in ("bleu1", "bleu4"):
        assert out[k][0] == pytest.approx(s.corpus[k], abs=1e-12)


def test_cider_resample_equals_reference_tool_on_duplicated_list(coco_golden):
    """Weights (2, 0, 1, ...) must give the CIDEr-D of the list with study 0 twice and
    study 1 dropped: document frequencies recounted on the resample."""
    tp = ptb_tokenize_lines(coco_golden["predictions"][:20])
    tr = ptb_tokenize_lines(coco_golden["references"][:20])
    w = np.ones(20)
    w[0], w[1] = 2, 0
    listed = [0, 0] + list(range(2, 20))
    expected, _ = cider_d([tp[i] for i in listed], [[tr[i]] for i in listed])
    assert CiderResampler(tp, tr)(w[None, :])["cider"][0] == pytest.approx(expected, abs=1e-12)


def test_intervals_contain_the_corpus_value_and_are_reproducible(coco_golden):
    s = score_reports(coco_golden["predictions"][:100], coco_golden["references"][:100], ["bleu", "rouge_l", "cider"])
    a = bootstrap_report_ci(s, n_resamples=200)
    b = bootstrap_report_ci(s, n_resamples=200)
    assert a == b
    for key, est in a.items():
        assert est.low <= s.corpus[key] <= est.high, key
        assert est.high > est.low
        assert est.mean == s.corpus[key]


def test_inverse_mean_and_shifted_mean_methods():
    per = [{"radcliq_v1": 1.0, "meteor": 0.2}, {"radcliq_v1": 3.0, "meteor": 0.4}]
    s = ReportScores(per_sample=per, corpus={"radcliq_v1_inv": 0.5, "meteor": 0.35},
                     ci_method={"radcliq_v1_inv": "inverse-mean", "radcliq_v1_inv:source": "radcliq_v1",
                                "meteor": "shifted-mean"})
    ci = bootstrap_report_ci(s, n_resamples=500)
    assert ci["radcliq_v1_inv"].low == pytest.approx(1 / 3) and ci["radcliq_v1_inv"].high == pytest.approx(1.0)
    # meteor: per-sample means range over [0.2, 0.4], shifted by 0.35 - 0.3
    assert ci["meteor"].low == pytest.approx(0.25) and ci["meteor"].high == pytest.approx(0.45)
