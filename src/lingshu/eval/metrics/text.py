"""Open-answer text metrics: exact match, token precision / recall / F1, BLEU-1..4, ROUGE-L.

All functions are pure and take token lists; how answers become tokens is the scorer's
choice (``lingshu.eval.scoring.verdicts.open_answer_scores`` uses
``lingshu.eval.scoring.normalize.answer_tokens``: lowercase, no punctuation, no articles,
number words as digits, CJK characters one token each).

Definitions (checked in tests against nltk and rouge-score):

- token precision = overlap / len(prediction), recall = overlap / len(gold), where overlap
  counts tokens as a multiset (a token used twice in the prediction matches twice only if
  the gold has it twice), F1 their harmonic mean. MedEvalKit labels these wrongly (its
  "precision" is the F1, its "recall" the precision and its "f1" the recall) and uses token
  sets; the ``medevalkit`` profile reproduces that, these functions do not.
- BLEU-n: sentence BLEU (Papineni et al. 2002) with clipped n-gram precisions, the brevity
  penalty against the single gold, and uniform weights over orders 1..m, where
  m = min(n, len(prediction)) ("effective order", as sacrebleu's sentence BLEU): a
  prediction too short to have n-grams of order n is not punished for it, so an exactly
  correct one-word answer scores 1.0 on BLEU-4. No smoothing: an order that has n-grams but
  no match gives 0. Equal to ``nltk.translate.bleu_score.sentence_bleu(..., weights=(1/m,)
  * m)`` without smoothing (nltk returns ~1e-300 instead of exactly 0). An empty
  prediction scores 0.
- ROUGE-L: the F-measure (beta = 1) of the longest common subsequence, P = LCS /
  len(prediction), R = LCS / len(gold), as rouge-score's ``rougeL``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

OPEN_SCORE_KEYS = (  # the keys of ``Verdict.scores`` for free-form answers
    "exact_match", "precision", "recall", "f1", "bleu1", "bleu2", "bleu3", "bleu4", "rouge_l",
)  # fmt: skip


def exact_match(pred: Sequence[str], gold: Sequence[str]) -> float:
    return 1.0 if list(pred) == list(gold) else 0.0


def token_prf(pred: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` of multiset token overlap. Both empty -> (1, 1, 1); one
    empty -> zeros."""
    if not pred and not gold:
        return 1.0, 1.0, 1.0
    if not pred or not gold:
        return 0.0, 0.0, 0.0
    overlap = sum((Counter(pred) & Counter(gold)).values())
    if overlap == 0:
        return 0.0, 0.0, 0.0
    precision = overlap / len(pred)
    recall = overlap / len(gold)
    return precision, recall, 2 * precision * recall / (precision + recall)


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(
    pred: Sequence[str], gold: Sequence[str], max_n: int = 4, *, effective_order: bool = True
) -> float:
    """BLEU-``max_n`` of one prediction against one gold (see module docstring).

    ``effective_order=False`` keeps all ``max_n`` orders (a prediction shorter than
    ``max_n`` then scores 0), which is what nltk's default, and MedEvalKit, compute.
    """
    if not pred or max_n < 1:
        return 0.0
    orders = min(max_n, len(pred)) if effective_order else max_n
    log_sum = 0.0
    for n in range(1, orders + 1):
        pred_ngrams = _ngrams(pred, n)
        total = max(1, sum(pred_ngrams.values()))
        matched = sum((pred_ngrams & _ngrams(gold, n)).values())
        if matched == 0:
            return 0.0
        log_sum += math.log(matched / total) / orders
    if len(pred) > len(gold):
        brevity = 1.0
    else:
        brevity = math.exp(1 - len(gold) / len(pred))
    return brevity * math.exp(log_sum)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, O(len(a) * len(b)))."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(pred: Sequence[str], gold: Sequence[str]) -> float:
    """ROUGE-L F-measure; 0 when either side is empty."""
    lcs = lcs_length(pred, gold)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(gold)
    return 2 * precision * recall / (precision + recall)

