"""The COCO caption metrics as registered report metrics: BLEU-1..4, ROUGE-L, METEOR,
CIDEr-D, computed on the COCO tokenisation of predictions (hypotheses) and references."""

from __future__ import annotations

import numpy as np

from lingshu.eval.metrics.reports import bleu as bleu_mod
from lingshu.eval.metrics.reports import cider as cider_mod
from lingshu.eval.metrics.reports.base import (
    REPORT_METRICS,
    MetricResult,
    MetricUnavailable,
    ReportContext,
)
from lingshu.eval.metrics.reports.meteor import Meteor, MeteorUnavailable
from lingshu.eval.metrics.reports.rouge import rouge_l


class BleuMetric:
    description = 'BLEU-1..4 on PTB-tokenised reports, corpus-level as pycocoevalcap computes it.'
    keys = ("bleu1", "bleu2", "bleu3", "bleu4")

    def compute(self, ctx: ReportContext) -> MetricResult:
        stats = [bleu_mod.bleu_stats(h, [r]) for h, r in zip(ctx.tok_predictions, ctx.tok_references, strict=True)]
        per = [bleu_mod.sample_bleu(s) for s in stats]
        corpus = bleu_mod.corpus_bleu(stats)
        # Sufficient statistics as a matrix: testlen, reflen, guess x4, correct x4.
        mat = np.array([[s.testlen, s.reflen, *s.guess, *s.correct] for s in stats], dtype=np.float64)

        def resample(w: np.ndarray) -> dict[str, np.ndarray]:
            tot = w @ mat  # (R, 10)
            prod = np.ones(len(w))
            out = {}
            ratio = (tot[:, 0] + bleu_mod._TINY) / (tot[:, 1] + bleu_mod._SMALL)
            bp = np.where(ratio < 1, np.exp(1 - 1 / np.maximum(ratio, 1e-300)), 1.0)
            for k in range(4):
                prod = prod * (tot[:, 6 + k] + bleu_mod._TINY) / (tot[:, 2 + k] + bleu_mod._SMALL)
                out[self.keys[k]] = prod ** (1.0 / (k + 1)) * bp
            return out

        return MetricResult(
            per_sample={k: [p[i] for p in per] for i, k in enumerate(self.keys)},
            corpus=dict(zip(self.keys, corpus, strict=True)),
            resample=resample,
            ci_method={k: "corpus" for k in self.keys},
        )


class RougeLMetric:
    description = 'ROUGE-L (LCS F-measure, beta 1.2) per report, averaged as pycocoevalcap does.'
    keys = ("rouge_l",)

    def compute(self, ctx: ReportContext) -> MetricResult:
        per = [rouge_l(h, [r]) for h, r in zip(ctx.tok_predictions, ctx.tok_references, strict=True)]
        return MetricResult({"rouge_l": per}, {"rouge_l": float(np.mean(per))}, ci_method={"rouge_l": "mean"})


class CiderDMetric:
    description = 'CIDEr-D (tf-idf n-gram consensus) over the evaluated reports, as pycocoevalcap.'
    keys = ("cider",)

    def compute(self, ctx: ReportContext) -> MetricResult:
        refs = [[r] for r in ctx.tok_references]
        corpus, per = cider_mod.cider_d(ctx.tok_predictions, refs)
        return MetricResult(
            {"cider": per},
            {"cider": corpus},
            resample=cider_mod.CiderResampler(ctx.tok_predictions, ctx.tok_references),
            ci_method={"cider": "corpus"},
        )


class MeteorMetric:
    description = 'METEOR 1.5 through its Java jar (needs Java), as pycocoevalcap runs it.'
    keys = ("meteor",)

    def prepare(self, ctx: ReportContext) -> None:
        """Start the jar now: its JVM spends ~7 s loading the paraphrase tables, which then
        overlaps with tokenising and the other metrics."""
        if "meteor" not in ctx.resources:
            weights = getattr(ctx.config, "weights", {}) or {}
            try:
                ctx.resources["meteor"] = Meteor(jar=weights.get("meteor_jar"))
            except MeteorUnavailable as e:
                ctx.resources["meteor"] = e

    def compute(self, ctx: ReportContext) -> MetricResult:
        self.prepare(ctx)
        jar = ctx.resources.pop("meteor")
        if isinstance(jar, MeteorUnavailable):
            raise MetricUnavailable(str(jar))
        try:
            with jar:
                corpus, per = jar.score(ctx.tok_predictions, [[r] for r in ctx.tok_references])
        except MeteorUnavailable as e:
            raise MetricUnavailable(str(e)) from None
        # The jar's corpus value aggregates alignment statistics; its bootstrap uses the
        # per-sample mean shifted onto the corpus value (re-running the jar per resample is
        # too slow).
        return MetricResult({"meteor": per}, {"meteor": corpus}, ci_method={"meteor": "shifted-mean"})


REPORT_METRICS.add("bleu", BleuMetric())
REPORT_METRICS.add("rouge_l", RougeLMetric())
REPORT_METRICS.add("meteor", MeteorMetric())
REPORT_METRICS.add("cider", CiderDMetric())
