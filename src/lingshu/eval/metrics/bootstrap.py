"""Bootstrap confidence intervals with a fixed seed.

Percentile bootstrap of the mean: resample the per-sample values with replacement
``n_resamples`` times and take the 2.5th / 97.5th percentiles of the resampled means.
The seed is fixed and derived from a label (benchmark + breakdown), so an interval does
not depend on what else was computed before it: a merged run gives the same intervals as
a single run over the same records in the same order.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20250609  # any fixed number; changing it changes every reported interval
_MAX_CELLS = 4_000_000  # resample in chunks to bound memory (n * chunk indices at a time)


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}


def bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    *,
    label: str = "",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> Estimate:
    """Mean of ``values`` with a percentile-bootstrap ``level`` interval.

    >>> e = bootstrap_mean([1, 1, 1, 1])
    >>> (e.mean, e.low, e.high)
    (1.0, 1.0, 1.0)
    """
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    rng = np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])
    chunk = max(1, min(n_resamples, _MAX_CELLS // n))
    means = np.empty(n_resamples, dtype=np.float64)
    done = 0
    while done < n_resamples:
        k = min(chunk, n_resamples - done)
        idx = rng.integers(0, n, size=(k, n))
        means[done : done + k] = x[idx].mean(axis=1)
        done += k
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Estimate(mean, float(low), float(high), n)
