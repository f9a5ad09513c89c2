"""What a report metric is and what scoring returns.

A metric gets a ``ReportContext`` (predictions, references, their COCO tokenisation
computed once and shared, the weights config) and returns a ``MetricResult``: per-sample
values and corpus values keyed by score name, plus, for metrics whose corpus value is not
a mean of per-sample values (BLEU, CIDEr-D), a ``resample`` function that recomputes the
corpus values for bootstrap weights. A metric whose weights or runtime are missing raises
``MetricUnavailable`` with one line saying what to provide; the run goes on without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from lingshu.core.registry import Registry
from lingshu.eval.metrics.reports.tokenize import ptb_tokenize_lines

Resampler = Callable[[np.ndarray], dict[str, np.ndarray]]
"""Maps bootstrap weights (resamples x samples, how often each sample was drawn) to the
corpus value of each score on each resample."""


class MetricUnavailable(RuntimeError):
    """The metric cannot run here (weights, Java, a package missing). One-line message."""


@dataclass
class MetricResult:
    per_sample: dict[str, list[float]] = field(default_factory=dict)
    corpus: dict[str, float] = field(default_factory=dict)
    resample: Resampler | None = None
    # How the bootstrap treats each corpus key: "corpus" (recomputed via ``resample``),
    # "mean" (mean of per-sample values), or "inverse-mean" (1 / mean, RadCliQ).
    ci_method: dict[str, str] = field(default_factory=dict)


class ReportContext:
    """Inputs shared by all metrics of one scoring call; tokenisation happens once."""

    def __init__(self, predictions: Sequence[str], references: Sequence[str], config: Any) -> None:
        self.predictions = list(predictions)
        self.references = list(references)
        self.config = config
        self._results: dict[str, MetricResult | MetricUnavailable] = {}
        # What a metric's ``prepare`` started for its ``compute`` (a running METEOR jar).
        self.resources: dict[str, Any] = {}

    def close(self) -> None:
        """Release what ``prepare`` started and ``compute`` did not consume."""
        for resource in self.resources.values():
            close = getattr(resource, "close", None)
            if callable(close):
                close()
        self.resources.clear()

    def result(self, name: str, impl: ReportMetric | None = None) -> MetricResult:
        """The metric's result, computed once per context: RadCliQ-v1 reuses the
        BERTScore, SembScore and RadGraph results computed for their own rows."""
        if name not in self._results:
            metric = impl if impl is not None else REPORT_METRICS.get(name)
            try:
                self._results[name] = metric.compute(self)
            except MetricUnavailable as e:
                self._results[name] = e
        res = self._results[name]
        if isinstance(res, MetricUnavailable):
            raise res
        return res

    @cached_property
    def tok_predictions(self) -> list[str]:
        # pycocoevalcap tokenises results and references as two separate files, in order.
        return ptb_tokenize_lines(self.predictions)

    @cached_property
    def tok_references(self) -> list[str]:
        return ptb_tokenize_lines(self.references)


class ReportMetric(Protocol):
    """``compute`` returns the metric's scores or raises ``MetricUnavailable``. A metric may
    also define ``prepare(ctx)``, called for every metric before any computes, to start
    slow resources early (see ``MeteorMetric``)."""

    keys: tuple[str, ...]
    description: str  # one line, for `lingshu eval metrics`

    def compute(self, ctx: ReportContext) -> MetricResult: ...


REPORT_METRICS: Registry[ReportMetric] = Registry("report metric")


@dataclass
class ReportScores:
    """Scores of a set of reports.

    ``per_sample[i]`` holds sample *i*'s values for every metric that has per-sample values;
    ``corpus`` the corpus-level values as the reference tools report them (corpus BLEU,
    mean ROUGE-L, the METEOR jar's aggregate, mean CIDEr-D, 1/mean RadCliQ-v1 ...);
    ``unavailable`` maps a metric that could not run to the reason.
    """

    per_sample: list[dict[str, float]]
    corpus: dict[str, float]
    unavailable: dict[str, str] = field(default_factory=dict)
    resamplers: dict[str, Resampler] = field(default_factory=dict, repr=False, compare=False)
    ci_method: dict[str, str] = field(default_factory=dict)


def load_pretrained(loader: Any, where: str | None, key: str, what: str) -> Any:
    """``loader.from_pretrained(where)`` or MetricUnavailable naming the weights."""
    if not where:
        raise MetricUnavailable(f"{what} needs weights: set weights.{key} in --weights-config")
    try:
        return loader.from_pretrained(where)
    except Exception as e:  # noqa: BLE001 - offline hub, missing folder, wrong format
        raise MetricUnavailable(
            f"{what}: cannot load weights {where!r} ({type(e).__name__}); download them and set "
            f"weights.{key}: /path in --weights-config"
        ) from None
