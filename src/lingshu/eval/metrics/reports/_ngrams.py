"""N-gram counting shared by BLEU and CIDEr-D (both split tokenised captions on whitespace)."""

from __future__ import annotations

from collections import Counter


def ngram_counts(words: list[str], n: int = 4) -> Counter[tuple[str, ...]]:
    """Counts of every 1..n-gram of ``words`` (n-grams as tuples)."""
    counts: Counter[tuple[str, ...]] = Counter()
    for k in range(1, n + 1):
        counts.update(tuple(words[i : i + k]) for i in range(len(words) - k + 1))
    return counts
