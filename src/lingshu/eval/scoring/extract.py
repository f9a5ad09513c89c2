"""Read an answer out of a model's response without guessing.

Pure functions used by the ``strict`` profile (and by anyone writing a verifier or reward):

- ``strip_think`` / ``unwrap_reasoning`` (``reasoning``): the declared answer of reasoning
  outputs.
- ``extract_choice``: the option letter of a multiple-choice answer.
- ``extract_yes_no`` (``yesno``): yes / no, by whole words and aware of negation.
- ``extract_short_answer``: the answer text of a free-form question.

Each returns an ``Extraction``: a value, or ``None`` with the reason nothing unique was
found. ``None`` means *invalid*: counted wrong and reported as the invalid rate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lingshu.eval.scoring.normalize import answer_tokens, clean, normalize_answer
from lingshu.eval.scoring.reasoning import (
    AMBIGUOUS,
    EMPTY,
    LEADING as _LEADING,
    NOT_FOUND,
    OUT_OF_RANGE,
    REVISION,
    TRAILING as _TRAILING,
    Extraction,
    last_answer_tag,
    last_boxed,
    strip_think,
    unwrap_reasoning,
)
from lingshu.eval.scoring.yesno import extract_yes_no

__all__ = [
    "Extraction",
    "extract_choice",
    "extract_short_answer",
    "extract_yes_no",
    "last_answer_tag",
    "last_boxed",
    "strip_think",
    "unwrap_reasoning",
]

# ---- multiple choice ----------------------------------------------------------------------

_HEDGE = re.compile(
    r"^(?:(?:probably|likely|most\s+likely|definitely|clearly|option|choice|letter|"
    r"选项|选择|选)\s*)+",
    re.IGNORECASE,
)
_LONE = re.compile(r"[(\[]?([A-Za-z])[)\]]?")
_MULTI = re.compile(
    r"[(\[]?([A-Z])[)\]]?\s*(?:,|/|&|、|\band\b|\bor\b|和|或)\s*(?:option\s+)?[(\[]?([A-Z])[)\]]?"
    r"(?![A-Za-z])"
)
_LETTER_DELIM = re.compile(
    r"(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Za-z])\s*[.:)\]]|([A-Z])\s+[-–])\s*"
)
_LETTER_SPACE = re.compile(r"([A-Z])\s+(.+)", re.DOTALL)
_LETTER_BOUNDARY = re.compile(r"[(\[]?([A-Z])[)\]]?(?=[\s,;]|$)")

_LEAD_IN = re.compile(
    r"(?:\b(?:the\s+)?(?:final|correct|right|best|most\s+appropriate|most\s+likely)?\s*"
    r"(?:answer|option|choice)\s*(?:is|would\s+be|should\s+be|will\s+be|=|:)|"
    r"\bi\s+(?:would\s+|will\s+)?(?:choose|select|pick|go\s+with)\b|"
    r"\bi'd\s+(?:choose|select|pick|go\s+with)\b|"
    r"答案\s*(?:是|为|:)?|选择|选)\s*:?",
    re.IGNORECASE,
)
# What may stand between a revision marker and the revised letter ("Actually, on
# reflection, it is B").
_REVISED_LEAD = re.compile(
    r"^[\s,:;.\-]*(?:(?:on\s+(?:second\s+thought|reflection))[\s,]*)?"
    r"(?:it(?:'s|\s+is|\s+should\s+be)|the\s+(?:correct\s+)?answer\s+is|i\s+think|"
    r"i\s+(?:choose|pick))?\s*",
    re.IGNORECASE,
)
# An option's text with its letter after it in parentheses: "Tuberculosis (C)".
_TEXT_THEN_LETTER = re.compile(r"(.+?)\s*[(\[]([A-Za-z])[)\]]")
_CORRECT_CLAIM = re.compile(
    r"(?:\b(?:option|choice)\s+)?[(\[]?\b([A-Z])\b[)\]]?\s+is\s+(?:also\s+)?(?:the\s+)?"
    r"(?:correct|right|best)\b|选项\s*([A-Z])\s*(?:是)?(?:正确|对)"
)


def extract_choice(response: str, options: Mapping[str, str]) -> Extraction:
    """The option letter a response asserts, or invalid.

    Accepted: a lone letter in any case ("B", "b", "(B)", "[B]", "B.", "B)"), a letter with
    its delimiter and text ("B. Asthma", "(C) Tuberculosis"), the full text of exactly one
    option ("asthma"), and explicit statements anywhere ("Answer: B", "The answer is (b).",
    "the correct option is (C) Tuberculosis", "Option C is correct", "I choose B", "答案是B"),
    an option's text followed by its own letter ("Tuberculosis (C)").
    Invalid: nothing of that kind, two different letters asserted ("A and C", "The answer is
    A. Actually the answer is C"), a changed answer after a revision marker ("The answer is
    C. Actually, on reflection, it is B."; ``REVISION``), text and letter that disagree
    ("Asthma (C)"), a letter whose following text is another option's full
    text ("B. Tuberculosis" when C is tuberculosis), a letter that is not an option.
    When a ``<answer>`` or ``\\boxed{}`` is present, only its content counts.
    """
    if not options:
        return Extraction(None, "no-options")
    body = strip_think(response)
    if not body.strip():
        return EMPTY
    container = last_answer_tag(body)
    if container is None:
        container = last_boxed(body)
    text = container if container is not None else body
    revision = REVISION.search(text)
    if revision is None:
        return _choice_in(text, options)
    first = _choice_in(text[: revision.start()], options)
    rest = _REVISED_LEAD.sub("", text[revision.end() :])
    second = _parse_segment(_line_after(rest, 0).split(". ")[0], options, after_lead_in=True)
    if second is None or second.value is None:
        second = _choice_in(rest, options) if rest.strip(_TRAILING) else NOT_FOUND
    if first.value and second.value and first.value != second.value:
        return AMBIGUOUS  # "The answer is C. Actually, on reflection, it is B."
    return first if first.value else second if second.value else _choice_in(text, options)


def _choice_in(text: str, options: Mapping[str, str]) -> Extraction:
    text = clean(text).strip()
    if not text.strip(_TRAILING):
        return EMPTY
    whole = _parse_segment(text, options, whole="\n" not in text)
    if whole is not None:
        return whole
    found: set[str] = set()
    ambiguous = False
    candidates = [
        _parse_segment(_line_after(text, m.end()), options, after_lead_in=True)
        for m in _LEAD_IN.finditer(text)
    ]
    candidates += [
        _letter_or_range(m.group(1) or m.group(2), options) for m in _CORRECT_CLAIM.finditer(text)
    ]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1:
        candidates += [_parse_segment(lines[0], options), _parse_segment(lines[-1], options)]
    for c in candidates:
        if c is None:
            continue
        if c is AMBIGUOUS:
            ambiguous = True
        elif c.value is not None:
            found.add(c.value)
    if ambiguous or len(found) > 1:
        return AMBIGUOUS
    if found:
        return Extraction(found.pop())
    return NOT_FOUND


def _line_after(text: str, pos: int) -> str:
    rest = text[pos:].lstrip()
    return rest.splitlines()[0] if rest else ""


def _letter_or_range(letter: str, options: Mapping[str, str]) -> Extraction:
    letter = letter.upper()
    return Extraction(letter) if letter in options else OUT_OF_RANGE


def _option_text_match(segment: str, options: Mapping[str, str]) -> Extraction | None:
    norm = normalize_answer(segment)
    if not norm:
        return None
    hits = [k for k, v in options.items() if normalize_answer(v) == norm]
    if len(hits) == 1:
        return Extraction(hits[0])
    return AMBIGUOUS if hits else None


def _parse_segment(
    segment: str, options: Mapping[str, str], *, whole: bool = False, after_lead_in: bool = False
) -> Extraction | None:
    """Read a letter from a short piece of text that is, as a whole, an answer.

    ``whole``: the segment is the entire (single-line) response, so a letter with a
    delimiter followed by any text ("B. Because ...") counts. Elsewhere (first / last line
    of a longer response) the text after the delimiter must be that option's own text, so
    that a list of options the model walks through ("A. Pneumonia - unlikely") is not read
    as an answer.
    ``after_lead_in``: the segment follows "The answer is"; an upper-case letter followed by
    a space or comma counts ("B because ...").
    Returns an ``Extraction``, ``AMBIGUOUS``, or ``None`` when the segment says nothing.
    """
    s = segment.strip(_LEADING).rstrip(_TRAILING)
    s = _HEDGE.sub("", s).strip(_LEADING).rstrip(_TRAILING)
    if not s:
        return None
    lone = _LONE.fullmatch(s)
    if lone:
        return _letter_or_range(lone.group(1), options)
    by_text = _option_text_match(s, options)
    if by_text is not None:
        return by_text
    text_letter = _TEXT_THEN_LETTER.fullmatch(s)
    if text_letter:
        named = _option_text_match(text_letter.group(1), options)
        letter = text_letter.group(2).upper()
        if named is not None and named.value is not None:
            return named if named.value == letter else AMBIGUOUS  # "Catabolism (D)"
    if _MULTI.match(s):
        return AMBIGUOUS
    delim = _LETTER_DELIM.match(s)
    if delim:
        letter = next(g for g in delim.groups() if g).upper()
        rest = s[delim.end() :]
        if letter in options:
            rest_match = _option_text_match(rest, options) if rest else None
            if rest_match is not None and rest_match.value not in (None, letter):
                return AMBIGUOUS  # "B. Tuberculosis" while tuberculosis is option C
            if whole or after_lead_in or not rest or rest_match == Extraction(letter):
                return Extraction(letter)
        elif whole and not rest:
            return OUT_OF_RANGE
    spaced = _LETTER_SPACE.fullmatch(s)
    if spaced and spaced.group(1) in options:
        if normalize_answer(spaced.group(2)) == normalize_answer(options[spaced.group(1)]):
            return Extraction(spaced.group(1))
    if after_lead_in:
        bounded = _LETTER_BOUNDARY.match(s)
        if bounded:
            return _letter_or_range(bounded.group(1), options)
    return None


# ---- free-form answers --------------------------------------------------------------------


def extract_short_answer(response: str) -> Extraction:
    """The declared answer text of a free-form response, or invalid when nothing is left.

    Reasoning is unwrapped and the text ``clean``-ed (Markdown emphasis and surrounding
    quotes removed, full-width forms and CJK punctuation folded: "肝脏。" reads "肝脏.")."""
    text = clean(unwrap_reasoning(response)).strip().strip(_LEADING)
    if not answer_tokens(text):
        return EMPTY
    return Extraction(text)
