"""Bucket keys of the dedup ops: scope hashes and multi-index Hamming bands.

Pure helpers (numpy only) that the ops use to say which records may interact in their
``decide``; ``curate/partition.py`` groups records by these keys in the workers.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


def mix64(values: list[str]) -> np.ndarray:
    """A 64-bit hash of each string (blake2b): scopes mixed into bucket keys."""
    import hashlib

    return np.array([int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(),
                                    "little") for v in values], dtype=np.uint64)


def hamming_bands(bits: int, threshold: int, max_masks: int = 1024) -> tuple[int, int]:
    """(bands, radius per band) for multi-index Hamming search (Norouzi et al., CVPR 2012):
    bands of about 21 bits (few random collisions even at millions of hashes) and at most
    32 (the key keeps the scope in its high half); more bands when the radius would need
    more than ``max_masks`` flipped-bit variants per band."""
    m = max(1, min(threshold + 1, bits // 21), -(-bits // 32))
    while True:
        r = threshold // m
        width = bits // m + (bits % m > 0)
        count = sum(len(list(combinations(range(width), k))) for k in range(r + 1))
        if count <= max_masks or m >= threshold + 1:
            return m, r
        m += 1


def flip_masks(width: int, radius: int) -> list[int]:
    """Every value with at most ``radius`` of the low ``width`` bits set."""
    return [sum(1 << b for b in c) for k in range(radius + 1)
            for c in combinations(range(width), k)]
