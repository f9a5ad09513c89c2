"""ROUGE-L as the COCO caption evaluation computes it (pycocoevalcap ``Rouge``, beta 1.2).

Per sample: longest common subsequence with each reference (tokens split on single
spaces, so an empty caption is one empty token, as in the reference), the best precision
and the best recall over references (taken separately), then the F-measure weighted by
beta = 1.2. The corpus score is the mean of the per-sample scores.
"""

from __future__ import annotations

from collections.abc import Sequence

BETA = 1.2  # pycocoevalcap rouge.py ("updated based on discussion with Hovey")


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (one-row dynamic programme)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else (prev[j] if prev[j] > cur[j - 1] else cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(hyp: str, refs: Sequence[str], beta: float = BETA) -> float:
    """ROUGE-L F of one tokenised hypothesis against tokenised references."""
    hc = hyp.split(" ")
    prec, rec = [], []
    for ref in refs:
        rc = ref.split(" ")
        lcs = lcs_length(rc, hc)
        prec.append(lcs / len(hc))
        rec.append(lcs / len(rc))
    p, r = max(prec), max(rec)
    if p != 0 and r != 0:
        return ((1 + beta**2) * p * r) / (r + beta**2 * p)
    return 0.0
