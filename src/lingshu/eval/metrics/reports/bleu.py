"""BLEU-1..4 exactly as the COCO caption evaluation computes it (pycocoevalcap ``Bleu``).

Per sample: clipped n-gram matches against the references, the reference length closest
to the hypothesis length (ties to the shorter), and the brevity penalty. Corpus: matches,
guesses and lengths are summed over all samples first and BLEU is computed once from the
sums ("closest" option), which is not the mean of the per-sample scores. The tiny and small
constants keep an empty hypothesis at ~0 rather than dividing by zero, as the reference does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lingshu.eval.metrics.reports._ngrams import ngram_counts

_TINY = 1e-15  # pycocoevalcap bleu_scorer.py: so that a zero guess still returns 0
_SMALL = 1e-9


@dataclass(frozen=True)
class BleuStats:
    """Sufficient statistics of one sample: what the corpus score sums."""

    testlen: int
    reflen: int  # closest reference length
    guess: tuple[int, ...]
    correct: tuple[int, ...]


def bleu_stats(hyp: str, refs: Sequence[str], n: int = 4) -> BleuStats:
    """Statistics of a tokenised hypothesis against tokenised references."""
    words = hyp.split()
    testlen = len(words)
    maxcounts: dict[tuple[str, ...], int] = {}
    reflens = []
    for ref in refs:
        rw = ref.split()
        reflens.append(len(rw))
        for g, c in ngram_counts(rw, n).items():
            if c > maxcounts.get(g, 0):
                maxcounts[g] = c
    reflen = min((abs(r - testlen), r) for r in reflens)[1]
    correct = [0] * n
    for g, c in ngram_counts(words, n).items():
        m = maxcounts.get(g)
        if m:
            correct[len(g) - 1] += min(m, c)
    guess = tuple(max(0, testlen - k + 1) for k in range(1, n + 1))
    return BleuStats(testlen, reflen, guess, tuple(correct))


def _combine(testlen: float, reflen: float, guess: Sequence[float], correct: Sequence[float]) -> list[float]:
    out, prod = [], 1.0
    for k in range(len(guess)):
        prod *= (correct[k] + _TINY) / (guess[k] + _SMALL)
        out.append(prod ** (1.0 / (k + 1)))
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    if ratio < 1:
        bp = math.exp(1 - 1 / ratio)
        out = [b * bp for b in out]
    return out


def sample_bleu(s: BleuStats) -> list[float]:
    """BLEU-1..n of one sample (pycocoevalcap's per-image scores)."""
    return _combine(s.testlen, s.reflen, s.guess, s.correct)


def corpus_bleu(stats: Sequence[BleuStats]) -> list[float]:
    """Corpus BLEU-1..n from summed statistics (pycocoevalcap's reported score)."""
    n = len(stats[0].guess) if stats else 4
    testlen = sum(s.testlen for s in stats)
    reflen = sum(s.reflen for s in stats)
    guess = [sum(s.guess[k] for s in stats) for k in range(n)]
    correct = [sum(s.correct[k] for s in stats) for k in range(n)]
    return _combine(testlen, reflen, guess, correct)
