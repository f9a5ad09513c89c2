"""MinHash near-duplicate search: signatures by rensa, banded LSH index here.

Library chosen by measurement (bench/dedup_text.py, docs/performance.md): rensa's Rust
``RMinHash.digests_from_token_sets`` computes signatures for a whole batch in one call,
which is where datasketch spends its time (one Python ``MinHash`` object and one
``update_batch`` per document). The LSH banding is small and kept here so that the
decision can also verify candidates against the signature's Jaccard estimate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int) -> list[str]:
    """Word n-grams of the lower-cased text (the whole text when shorter than n)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def signatures(texts: Sequence[str], num_perm: int, ngram: int, seed: int = 1) -> list[list[int]]:
    from rensa import RMinHash

    sets = [shingles(t, ngram) or [""] for t in texts]
    return RMinHash.digests_from_token_sets(sets, num_perm, seed)


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


class LshIndex:
    def __init__(self, threshold: float, num_perm: int, verify: bool = True) -> None:
        self.b, self.r = optimal_bands(threshold, num_perm)
        self.threshold, self.verify = threshold, verify
        self.tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.b)]
        self.sigs: list[Sequence[int]] = []

    def _keys(self, sig: Sequence[int]) -> list[bytes]:
        r = self.r
        return [hashlib.blake2b(str(tuple(sig[i * r : (i + 1) * r])).encode(),
                                digest_size=8).digest() for i in range(self.b)]

    def query(self, sig: Sequence[int]) -> tuple[int, float] | None:
        """The first stored item (lowest index) that collides in a band (and, with
        ``verify``, whose estimated Jaccard reaches the threshold)."""
        cands: set[int] = set()
        for table, key in zip(self.tables, self._keys(sig), strict=True):
            cands.update(table.get(key, ()))
        for idx in sorted(cands):
            est = sum(a == b for a, b in zip(self.sigs[idx], sig, strict=True)) / len(sig)
            if not self.verify or est >= self.threshold:
                return idx, est
        return None

    def add(self, sig: Sequence[int]) -> int:
        idx = len(self.sigs)
        self.sigs.append(sig)
        for table, key in zip(self.tables, self._keys(sig), strict=True):
            table.setdefault(key, []).append(idx)
        return idx
