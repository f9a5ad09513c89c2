import numpy as np

from lingshu.eval.metrics.bootstrap import bootstrap_mean


def reference_bootstrap(values, seed_seq, n_resamples=1000):
    """Independent re-statement: one resample at a time, plain percentile."""
    rng = np.random.default_rng(seed_seq)
    x = np.asarray(values, dtype=float)
    means = [x[rng.integers(0, len(x), size=(1, len(x)))][0].mean() for _ in range(n_resamples)]
    return np.quantile(means, [0.025, 0.975])


def test_constant_values_have_zero_width():
    e = bootstrap_mean([0.0] * 7)
    assert (e.mean, e.low, e.high, e.n) == (0.0, 0.0, 0.0, 7)


def test_matches_reference_and_is_deterministic():
    import zlib

    vals = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0]
    e1 = bootstrap_mean(vals, label="x", seed=7)
    e2 = bootstrap_mean(vals, label="x", seed=7)
    assert e1 == e2
    lo, hi = reference_bootstrap(vals, [7, zlib.crc32(b"x")])
    assert abs(e1.low - lo) < 1e-12 and abs(e1.high - hi) < 1e-12
    assert e1.mean == 7 / 12


def test_interval_covers_mean_and_width_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 2, 50)
    big = rng.integers(0, 2, 5000)
    es, eb = bootstrap_mean(small), bootstrap_mean(big)
    assert es.low <= es.mean <= es.high
    assert (eb.high - eb.low) < (es.high - es.low) / 5
    # Normal approximation for a proportion: half-width ~ 1.96 * sqrt(p(1-p)/n)
    p = big.mean()
    half = 1.96 * np.sqrt(p * (1 - p) / big.size)
    assert abs((eb.high - eb.low) / 2 - half) < 0.15 * half


def test_empty_is_nan():
    e = bootstrap_mean([])
    assert e.n == 0 and np.isnan(e.mean)
