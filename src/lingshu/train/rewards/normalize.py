"""Answer normalisation for rule-based accuracy rewards.

Two short answers match when they are equal after the evaluation kit's normaliser
(``lingshu.eval.normalize_answer``): Unicode NFKC folding, lower case, punctuation and
symbols turned into spaces, the articles a/an/the dropped, number words up to twenty and
the tens turned into digits, whitespace collapsed ("The Left lung." == "left lung", "two"
== "2"). It is the same function evaluation scores with, so a policy is paid for exactly
the answers the benchmark will count (before issue 18 the reward had its own copy, which
did not read "two" as "2"). It deliberately does not stem, reorder words or accept
synonyms, because a reward that can be gamed by near-misses trains near-misses (the
Lingshu paper blames its flat RL result on rule-based rewards for open answers, BRIEF §2).
"""

from __future__ import annotations

import re

from lingshu.eval import normalize_answer

_LETTER_ANSWER = re.compile(r"^\(?([A-Za-z])\)?\s*(?:[.:)]\s*(.*))?$", re.DOTALL)


def normalize_text(text: str) -> str:
    """The one answer normaliser (``lingshu.eval.normalize_answer``)."""
    return normalize_answer(text)


def split_letter(text: str) -> tuple[str, str] | None:
    """``"B"``, ``"(B)"``, ``"B."``, ``"B. Liver"``, ``"B) Liver"`` -> ``("B", rest)``;
    anything else (a word, ``"Bone"``) -> ``None``."""
    m = _LETTER_ANSWER.match(text.strip())
    if not m:
        return None
    return m.group(1).upper(), (m.group(2) or "").strip()
