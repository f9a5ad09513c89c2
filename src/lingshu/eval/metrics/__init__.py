"""Metrics: open-answer text metrics (``text``), accuracy aggregation with breakdowns
(``aggregate``) and bootstrap confidence intervals (``bootstrap``)."""

from lingshu.eval.metrics.text import (
    OPEN_SCORE_KEYS,
    exact_match,
    lcs_length,
    rouge_l,
    sentence_bleu,
    token_prf,
)

__all__ = [
    "OPEN_SCORE_KEYS",
    "exact_match",
    "lcs_length",
    "rouge_l",
    "sentence_bleu",
    "token_prf",
]
