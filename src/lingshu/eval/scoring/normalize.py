"""Text normalisation shared by answer extraction, strict scoring and open-answer metrics.

Two levels:

- ``clean`` keeps the words and punctuation but removes what only changes the look of an
  answer: Unicode compatibility forms (full-width ``Ｂ``, ``（``, ``：`` become ``B``, ``(``,
  ``:`` via NFKC), curly quotes, Markdown emphasis (``**B**``, ``_B_``, `` `B` ``).
  Extraction patterns run on cleaned text.
- ``normalize_answer`` / ``answer_tokens`` compare answers: lowercase, punctuation and
  symbols become spaces, the articles a / an / the are dropped, number words up to twenty
  and the tens become digits ("two" == "2"), whitespace collapses. CJK ideographs and kana
  have no spaces between words, so each one is its own token (the usual choice for Chinese
  text metrics); other scripts split on whitespace.

``is_polar_question`` reads a question's wording (never its gold answer) to decide whether it
asks for yes / no.
"""

from __future__ import annotations

import re
import unicodedata

_ARTICLES = frozenset({"a", "an", "the"})

NUMBER_WORDS: dict[str, str] = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
}  # fmt: skip
"""Counts in VQA answers are small ("How many lesions?" -> "two" or "2")."""

# Characters NFKC leaves alone but that mean the same as ASCII punctuation here.
_EXTRA_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u3002": ".",
        "\u3001": ",", "\u300c": '"', "\u300d": '"', "\u2013": "-", "\u2014": "-",
    }
)  # fmt: skip
_MARKDOWN = re.compile(r"\*+|`+|(?<!\w)_{1,3}|_{1,3}(?!\w)")

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Auxiliary verbs that open a yes/no question in English.
POLAR_OPENERS = frozenset(
    """is are am was were do does did can could has have had will would should shall may
    might must isn't aren't wasn't weren't doesn't don't didn't can't couldn't hasn't
    haven't won't wouldn't shouldn't""".split()
)


def clean(text: str) -> str:
    """Fold compatibility forms and strip Markdown emphasis; keep words and punctuation."""
    text = unicodedata.normalize("NFKC", text).translate(_EXTRA_FOLD)
    return _MARKDOWN.sub("", text)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def answer_tokens(text: str) -> list[str]:
    """Tokens for comparing answers (see module docstring)."""
    text = clean(text).lower()
    chars = [
        " " if unicodedata.category(ch)[0] in "PS" else f" {ch} " if _CJK.match(ch) else ch
        for ch in text
    ]
    tokens = []
    for tok in "".join(chars).split():
        if tok in _ARTICLES:
            continue
        tokens.append(NUMBER_WORDS.get(tok, tok))
    return tokens


def normalize_answer(text: str) -> str:
    """``answer_tokens`` joined by single spaces: the form compared for exact match."""
    return " ".join(answer_tokens(text))


def is_polar_question(question: str) -> bool:
    """Whether the wording asks for yes or no.

    English: the question opens with an auxiliary verb ("Is there ...", "Does the image
    show ...") and offers no alternative ("Is this an MRI or a CT?" is not polar). Chinese:
    it contains 是否 / 是不是 / 有没有 or ends with 吗.
    """
    q = clean(question).strip().lower()
    if has_cjk(q):
        return bool(re.search(r"是否|是不是|有没有|吗\s*[?？]?\s*$", q))
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", q)
    if not words or words[0] not in POLAR_OPENERS:
        return False
    return "or" not in words
