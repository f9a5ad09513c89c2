"""Rule-based accuracy reward: 1.0 when the answer block holds the gold answer, else 0.0.

The answer is read only from the single well-formed ``<answer>`` block (``parsing``); a
completion without one scores 0, whatever it says elsewhere, so the policy cannot be paid
for an answer the format reward rejects. How the block is compared with the gold
``answer`` column depends on the row's ``question_type`` (CONTRACTS.md point 2):

- ``mcq``: the option letter (``B``, ``(B)``, ``B.``), the option's text, or both
  (``B. Liver``; the text must then be that letter's option). Gold may be a letter or an
  option's text; ``options`` maps letters to texts.
- ``yes_no``: normalised "yes" / "no" and nothing more.
- ``open``: normalised exact match (``normalize``) against the gold answer, or any of
  several gold answers when ``answer`` is a list.
- ``numeric``: math-verify 0.9 (Med-R1's verifier, BRIEF §2), so ``0.5`` == ``1/2`` and
  ``12`` == ``12.0``; a hedge with several numbers ("12 or 13") scores 0, and so does an
  answer block over 100 characters (no numeric answer is that long; sympy on long text is slow).

A missing ``question_type`` is inferred from the row: options -> mcq, a yes/no gold ->
yes_no, a number -> numeric, anything else -> open.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from lingshu.train.rewards.base import completion_text, register_reward
from lingshu.train.rewards.normalize import normalize_text, split_letter
from lingshu.train.rewards.parsing import extract_answer

QUESTION_TYPES = ("mcq", "yes_no", "open", "numeric")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(/\d+)?%?$")
_HEDGE = re.compile(r"\bor\b|\band\b|[,;]|\bto\b|(?<=\d)\s*-\s*(?=\d)", re.IGNORECASE)


def _clean_options(options: Any) -> dict[str, str]:
    """Letters -> texts; drops the ``None`` entries a datasets struct column adds."""
    if not isinstance(options, Mapping):
        return {}
    return {str(k).strip().upper(): str(v) for k, v in options.items() if v is not None}


def _golds(answer: Any) -> list[str]:
    if answer is None:
        return []
    if isinstance(answer, str):
        return [answer]
    if isinstance(answer, Sequence):
        return [str(a) for a in answer if a is not None]
    return [str(answer)]


def infer_question_type(answer: Any, options: Any) -> str:
    """The question type a row without ``question_type`` is scored as."""
    if _clean_options(options):
        return "mcq"
    golds = _golds(answer)
    first = normalize_text(golds[0]) if golds else ""
    if first in ("yes", "no"):
        return "yes_no"
    if golds and _NUMBER.match(golds[0].strip().replace(",", "")):
        return "numeric"
    return "open"


def _gold_letter(golds: list[str], options: dict[str, str]) -> str | None:
    for gold in golds:
        parts = split_letter(gold)
        if parts and (not options or parts[0] in options):
            return parts[0]
        for letter, text in options.items():
            if normalize_text(text) == normalize_text(gold):
                return letter
    return None


def match_mcq(pred: str, answer: Any, options: Any) -> bool:
    opts = _clean_options(options)
    letter = _gold_letter(_golds(answer), opts)
    if letter is None:
        return False
    parts = split_letter(pred)
    if parts is not None and (not opts or parts[0] in opts):
        said, rest = parts
        if said != letter:
            return False
        # "B. text" must name B's own text; a bare letter is enough.
        return not rest or normalize_text(rest) == normalize_text(opts.get(letter, rest))
    return letter in opts and normalize_text(pred) == normalize_text(opts[letter])


def match_yes_no(pred: str, answer: Any) -> bool:
    said = normalize_text(pred)
    return said in ("yes", "no") and any(said == normalize_text(g) for g in _golds(answer))


def match_open(pred: str, answer: Any) -> bool:
    said = normalize_text(pred)
    return bool(said) and any(said == normalize_text(g) for g in _golds(answer))


_MAX_NUMERIC_CHARS = 100
"""A numeric answer is short; longer text is not parsed (sympy on long input is slow)."""


def match_numeric(pred: str, answer: Any) -> bool:
    from math_verify import parse, verify

    if len(pred) > _MAX_NUMERIC_CHARS:
        return False
    if _HEDGE.search(pred) and len(re.findall(r"\d+(?:\.\d+)?", pred)) > 1:
        return False
    # math-verify's timeouts use SIGALRM, which only the main thread may set; a reward run
    # from a worker thread goes without (inputs are short, see above).
    limit = 5 if threading.current_thread() is threading.main_thread() else None
    said = parse(pred, parsing_timeout=limit)
    if not said:
        return False
    return any(verify(parse(g, parsing_timeout=limit), said, timeout_seconds=limit)
               for g in _golds(answer))


def score_answer(pred: str | None, answer: Any, question_type: str | None, options: Any) -> float:
    """1.0 if ``pred`` (an answer block's content, ``None`` when absent) matches the gold."""
    if pred is None:
        return 0.0
    qtype = question_type or infer_question_type(answer, options)
    if qtype == "mcq":
        ok = match_mcq(pred, answer, options)
    elif qtype == "yes_no":
        ok = match_yes_no(pred, answer)
    elif qtype == "open":
        ok = match_open(pred, answer)
    elif qtype == "numeric":
        ok = match_numeric(pred, answer)
    else:
        raise ValueError(f"question_type {qtype!r}; expected one of {', '.join(QUESTION_TYPES)}")
    return 1.0 if ok else 0.0


@register_reward("accuracy")
def accuracy(
    completions: list[Any],
    answer: list[Any],
    question_type: list[str | None] | None = None,
    options: list[Any] | None = None,
    **_: Any,
) -> list[float]:
    """1 if the <answer> block matches the gold answer (mcq letter/text, yes/no, open, numeric).

    >>> accuracy(["<answer>B</answer>", "B"], answer=["B", "B"],
    ...          question_type=["mcq", "mcq"], options=[{"A": "x", "B": "y"}] * 2)
    [1.0, 0.0]
    """
    n = len(completions)
    qtypes = question_type if question_type is not None else [None] * n
    opts = options if options is not None else [None] * n
    return [
        score_answer(extract_answer(completion_text(c)), a, q, o)
        for c, a, q, o in zip(completions, answer, qtypes, opts, strict=True)
    ]
