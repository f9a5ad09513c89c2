"""Answer normalisation for rule-based accuracy rewards.

Two short answers match when they are equal after: Unicode NFKC folding, lower case,
punctuation and symbols turned into spaces, the articles a/an/the dropped and whitespace
collapsed ("The Left lung." == "left lung"). This is the usual SQuAD/VQA-style exact-match
normalisation; it deliberately does not stem, reorder words or accept synonyms, because a
reward that can be gamed by near-misses trains near-misses (the Lingshu paper blames its
flat RL result on rule-based rewards for open answers, BRIEF §2).
"""

from __future__ import annotations

import re
import unicodedata

_ARTICLES = frozenset({"a", "an", "the"})
_LETTER_ANSWER = re.compile(r"^\(?([A-Za-z])\)?\s*(?:[.:)]\s*(.*))?$", re.DOTALL)


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    chars = [" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text]
    return " ".join(t for t in "".join(chars).split() if t not in _ARTICLES)


def split_letter(text: str) -> tuple[str, str] | None:
    """``"B"``, ``"(B)"``, ``"B."``, ``"B. Liver"``, ``"B) Liver"`` -> ``("B", rest)``;
    anything else (a word, ``"Bone"``) -> ``None``."""
    m = _LETTER_ANSWER.match(text.strip())
    if not m:
        return None
    return m.group(1).upper(), (m.group(2) or "").strip()
