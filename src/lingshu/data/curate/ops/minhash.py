"""MinHash near-duplicate search: signatures by rensa, banded LSH index here.

Library chosen by measurement (bench/dedup_text.py, docs/performance.md): rensa's Rust
``RMinHash.digests_from_token_sets`` computes signatures for a whole batch in one call,
which is where datasketch spends its time (one Python ``MinHash`` object and one
``update_batch`` per document). The LSH banding is small and kept here so that the
decision can also verify candidates against the signature's Jaccard estimate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

WORD_RE = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int) -> list[str]:
    """Word n-grams of the lower-cased text (the whole text when shorter than n)."""
    words = WORD_RE.findall(text.lower())
    if len(words) < n:
        return [" ".join(words)] if words else []
    return list(map(" ".join, zip(*(words[i:] for i in range(n)))))


def signatures(texts: Sequence[str], num_perm: int, ngram: int, seed: int = 1) -> list[list[int]]:
    from rensa import RMinHash

    sets = [shingles(t, ngram) or [""] for t in texts]
    return RMinHash.digests_from_token_sets(sets, num_perm, seed)


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising the equally weighted false-positive and false-negative
    areas of the S-curve 1-(1-s^r)^b around ``threshold`` (the criterion of Leskovec et
    al., Mining of Massive Datasets §3.4, also used by datasketch)."""

    def area(f, lo: float, hi: float, steps: int = 200) -> float:  # noqa: ANN001
        w = (hi - lo) / steps
        return sum(f(lo + (k + 0.5) * w) for k in range(steps)) * w

    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        r = num_perm // b
        if r == 0:
            break
        fp = area(lambda s, b=b, r=r: 1 - (1 - s**r) ** b, 0.0, threshold)
        fn = area(lambda s, b=b, r=r: (1 - s**r) ** b, threshold, 1.0)
        if 0.5 * fp + 0.5 * fn < best_err:
            best, best_err = (b, r), 0.5 * fp + 0.5 * fn
    return best


_MULT = None


def band_keys(sigs, bands: int, rows: int):  # noqa: ANN001, ANN201
    """``(n, bands)`` uint64 keys: each band's rows folded by a fixed odd-multiplier
    polynomial (numpy, vectorised over all documents; wraps mod 2**64)."""
    import numpy as np

    global _MULT
    if _MULT is None or len(_MULT) < rows:
        rng = np.random.default_rng(12345)
        _MULT = rng.integers(1, 2**63, size=max(rows, 64), dtype=np.uint64) | np.uint64(1)
    m = np.asarray(sigs, dtype=np.uint64)
    if m.ndim == 1:
        m = m[None, :]
    out = np.empty((m.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(bands):
            block = m[:, b * rows : (b + 1) * rows]
            out[:, b] = (block * _MULT[:rows]).sum(axis=1, dtype=np.uint64) ^ np.uint64(b)
    return out


class LshIndex:
    def __init__(self, threshold: float, num_perm: int, verify: bool = True) -> None:
        self.b, self.r = optimal_bands(threshold, num_perm)
        self.threshold, self.verify = threshold, verify
        self.tables: list[dict[int, list[int]]] = [{} for _ in range(self.b)]
        self.sigs: list[Sequence[int]] = []

    def keys(self, sigs) -> list[list[int]]:  # noqa: ANN001
        return band_keys(sigs, self.b, self.r).tolist()

    def query(self, sig: Sequence[int], keys: list[int] | None = None) -> tuple[int, float] | None:
        """The first stored item (lowest index) that collides in a band (and, with
        ``verify``, whose estimated Jaccard reaches the threshold)."""
        keys = keys if keys is not None else self.keys(sig)[0]
        cands: set[int] = set()
        for table, key in zip(self.tables, keys, strict=True):
            hit = table.get(key)
            if hit:
                cands.update(hit)
        import numpy as np

        for idx in sorted(cands):
            est = int(np.count_nonzero(np.asarray(self.sigs[idx]) == np.asarray(sig))) / len(sig)
            if not self.verify or est >= self.threshold:
                return idx, est
        return None

    def add(self, sig: Sequence[int], keys: list[int] | None = None) -> int:
        keys = keys if keys is not None else self.keys(sig)[0]
        idx = len(self.sigs)
        self.sigs.append(sig)
        for table, key in zip(self.tables, keys, strict=True):
            table.setdefault(key, []).append(idx)
        return idx
