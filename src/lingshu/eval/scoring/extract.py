"""Read an answer out of a model's response without guessing.

Pure functions used by the ``strict`` profile (and by anyone writing a verifier or reward):

- ``strip_think`` / ``unwrap_reasoning``: reasoning outputs. ``<think>...</think>`` blocks
  are dropped (an unclosed ``<think>`` drops everything after it: the model ran out of tokens
  before answering; a lone ``</think>`` drops everything before it, as chat templates that
  open the block in the prompt produce). The declared answer is then the content of the last
  ``<answer>...</answer>``, else of the last ``\\boxed{...}`` (nested braces balanced), else
  the text after the last "The answer is" / "Final answer:" / "Answer:" / "答案是", else the
  whole remaining text.
- ``extract_choice``: the option letter of a multiple-choice answer.
- ``extract_yes_no``: yes / no, by whole words and aware of negation.
- ``extract_short_answer``: the answer text of a free-form question.

Each returns an ``Extraction``: a value, or ``None`` with the reason nothing unique was
found ("empty", "not-found", "ambiguous", "out-of-range"). ``None`` means *invalid*: it is
counted wrong and reported as the invalid rate, never replaced by a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lingshu.eval.scoring.normalize import answer_tokens, clean, normalize_answer


@dataclass(frozen=True)
class Extraction:
    """What a parser read: ``value`` (a letter, "yes"/"no", or answer text), or ``None`` and
    ``reason`` saying why nothing unique could be read."""

    value: str | None
    reason: str = ""

    @property
    def invalid(self) -> bool:
        return self.value is None


EMPTY = Extraction(None, "empty")
NOT_FOUND = Extraction(None, "not-found")
AMBIGUOUS = Extraction(None, "ambiguous")
OUT_OF_RANGE = Extraction(None, "out-of-range")

# ---- reasoning formats ---------------------------------------------------------------------

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_LATEX_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit|mbox)\s*\{([^{}]*)\}")

_FINAL_PHRASE = re.compile(
    r"(?:\bfinal\s+answer\b(?:\s+is\b)?|"
    r"\b(?:the\s+)?(?:correct\s+|right\s+|best\s+)?answer\s+(?:is|would\s+be|should\s+be)\b|"
    r"\banswer\s*:|答案\s*(?:是|为|:))\s*:?",
    re.IGNORECASE,
)


def strip_think(text: str) -> str:
    """Remove ``<think>`` reasoning (see module docstring)."""
    text = _THINK_BLOCK.sub(" ", text)
    opened = _THINK_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    return text


def last_answer_tag(text: str) -> str | None:
    """Content of the last ``<answer>...</answer>``; an unclosed last ``<answer>`` runs to
    the end of the text. ``None`` when there is no ``<answer>``."""
    opens = list(_ANSWER_OPEN.finditer(text))
    if not opens:
        return None
    rest = text[opens[-1].end() :]
    close = _ANSWER_CLOSE.search(rest)
    return rest[: close.start()] if close else rest


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with nested braces balanced, LaTeX text wrappers
    (``\\text{B}``) and ``$`` removed. ``None`` when absent or never closed."""
    starts = list(_BOXED.finditer(text))
    if not starts:
        return None
    pos = starts[-1].end()
    depth = 1
    for i in range(pos, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                inner = text[pos:i]
                while _LATEX_WRAPPER.search(inner):
                    inner = _LATEX_WRAPPER.sub(r"\1", inner)
                return inner.replace("$", "").strip()
    return None


def unwrap_reasoning(response: str) -> str:
    """The declared answer of a response (see module docstring); stripped, may be empty."""
    body = strip_think(response)
    for container in (last_answer_tag(body), last_boxed(body)):
        if container is not None:
            return container.strip()
    phrases = list(_FINAL_PHRASE.finditer(body))
    if phrases:
        rest = body[phrases[-1].end() :].strip()
        if rest:
            return rest
    return body.strip()


# ---- multiple choice ----------------------------------------------------------------------

_TRAILING = " \t\r\n.。!！;；,，:：'\"“”"
_LEADING = " \t\r\n'\"“”"
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
_CORRECT_CLAIM = re.compile(
    r"(?:\b(?:option|choice)\s+)?[(\[]?\b([A-Z])\b[)\]]?\s+is\s+(?:also\s+)?(?:the\s+)?"
    r"(?:correct|right|best)\b|选项\s*([A-Z])\s*(?:是)?(?:正确|对)"
)


def extract_choice(response: str, options: Mapping[str, str]) -> Extraction:
    """The option letter a response asserts, or invalid.

    Accepted: a lone letter in any case ("B", "b", "(B)", "[B]", "B.", "B)"), a letter with
    its delimiter and text ("B. Asthma", "(C) Tuberculosis"), the full text of exactly one
    option ("asthma"), and explicit statements anywhere ("Answer: B", "The answer is (b).",
    "the correct option is (C) Tuberculosis", "Option C is correct", "I choose B", "答案是B").
    Invalid: nothing of that kind, two different letters asserted ("A and C", "The answer is
    A. Actually the answer is C"), a letter whose following text is another option's full
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
    return _choice_in(container if container is not None else body, options)


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


# ---- yes / no -----------------------------------------------------------------------------

_YES_WORDS = frozenset({"yes", "yeah", "yep", "yup"})
_NO_WORDS = frozenset({"no", "nope"})
_NO_REPLY = re.compile(r"\b(?:no|nope)\b(?=\s*(?:[.,!;:?)]|$))")
_NEGATION = re.compile(
    r"\b(?:no|not|none|nothing|never|neither|nor|without|absent|absence|negative|cannot|"
    r"lacks?|lacking|devoid|unremarkable|free\s+of|ruled\s+out)\b|n't\b"
)
_NEGATION_WORDS = frozenset(
    "no not none nothing never neither nor without absent absence negative cannot lack lacks "
    "lacking devoid unremarkable".split()
)
_HEDGING = re.compile(
    r"\b(?:whether|unclear|uncertain|unsure|not\s+sure|determine|tell|possibly|possible|may|"
    r"might|perhaps|cannot\s+be\s+(?:excluded|ruled\s+out)|can't\s+be\s+(?:excluded|ruled\s+out))\b"
)
_CLAUSE_SPLIT = re.compile(
    r"[.,;!?。，；]|\s[-–]\s|\b(?:but|however|although|though|whereas|while|except)\b"
)
# Words a bare statement about the question may hold besides its content words, the
# question's own stopwords and negations ("There is no nodule seen", "Nodule: not identified").
_FINDING_WORDS = frozenset(
    """seen noted identified detected visible evident appreciated observed demonstrated
    present found shown appear appears appearing to definite definitely clearly obvious
    i we can think believe""".split()
)
_YES_REPLY = re.compile(r"\b(?:yes|yeah|yep|yup)\b(?=\s*(?:[.,!;:?)]|$))")
_OPPOSITE = {"yes": "no", "no": "yes"}
_REPLY_WORDS = _YES_WORDS | _NO_WORDS
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ZH_YES = re.compile(r"^(?:是|对|有)(?!否|不是|没有)")
_ZH_NO = re.compile(r"^(?:否|不|没有|没|无)")

_QUESTION_STOPWORDS = frozenset(
    """is are am was were do does did can could has have had will would should shall may
    might must be been being there here this that these those it its they them their the a an
    of in on at to for from by with within into onto as any some image images picture photo
    scan shown show shows showing seen see visible evidence present presence noted patient
    what which where who whom how why or and""".split()
)


def extract_yes_no(response: str, question: str | None = None) -> Extraction:
    """"yes" or "no" from a response to a polar question, or invalid.

    Votes are collected from the declared answer (see ``unwrap_reasoning``):
    - reply words: "yes" / "yeah" / "yep" anywhere as a whole word; "no" / "nope" as the
      first word ("No evidence of pneumothorax") or standing alone before punctuation or the
      end ("yes and no"); Chinese 是 / 否 at the start;
    - statements, when ``question`` is given: the question's content words (without
      auxiliaries, articles, "image", "evidence", ...) are looked up clause by clause. A
      clause with a content word and a negation ("There is no nodule", "Nodule is not
      present") votes no; a clause with all content words and no negation ("There is a
      nodule") votes yes. Hedged clauses ("cannot determine whether ...") vote nothing.
    A response that opens with a reply word is decided by it ("Yes. No other abnormality
    is seen." is yes, "No, but there is a small effusion" is no) unless the rest asserts
    the other answer as well (see ``_decided_by_lead``). Otherwise one distinct vote gives
    the answer ("There is no pleural effusion." is no); none ("Normal", "Unknown") or both
    ("Yes, there is no nodule", "yes and no") give invalid. Words are matched whole, so "nodule",
    "normal", "unknown" never read as "no".
    """
    body = strip_think(response)
    if not body.strip():
        return EMPTY
    text = clean(unwrap_reasoning(body)).lower().strip()
    if not text.strip(_TRAILING):
        return EMPTY
    words = _WORD.findall(text)
    content = _content_words(question) if question else frozenset()
    lead = _leading_answer(text, words)
    if lead is not None:
        return _decided_by_lead(lead, text, content)
    votes: set[str] = set()
    if any(w in _YES_WORDS for w in words):
        votes.add("yes")
    if (words and words[0] in _NO_WORDS and text.lstrip(_LEADING).startswith(words[0])) or (
        _NO_REPLY.search(text)
    ):
        votes.add("no")
    zh = text.lstrip(_LEADING)
    if _ZH_YES.match(zh):
        votes.add("yes")
    elif _ZH_NO.match(zh):
        votes.add("no")
    votes |= {vote for vote, _ in _statement_votes(text, content)}
    if len(votes) == 1:
        return Extraction(votes.pop())
    return AMBIGUOUS if votes else NOT_FOUND


def _leading_answer(text: str, words: list[str]) -> str | None:
    """"yes" / "no" when the response opens with a reply word ("Yes. ...", "No, but ...",
    "No pneumothorax is seen", "是的") or 是 / 否 in Chinese; else None."""
    head = text.lstrip(_LEADING)
    if words and head.startswith(words[0]):
        if words[0] in _YES_WORDS:
            return "yes"
        if words[0] in _NO_WORDS:
            return "no"
    if _ZH_YES.match(head):
        return "yes"
    if _ZH_NO.match(head):
        return "no"
    return None


def _decided_by_lead(lead: str, text: str, content: frozenset[str]) -> Extraction:
    """A response that opens with a clear answer is decided by it, even when a later
    sentence holds the other word ("Yes. No other abnormality is seen.", "No, but there
    is a small effusion"). It stays invalid only when the rest asserts the other answer too:
    the other reply word standing as a reply ("yes and no", "No. Yes, there is one.") or a
    bare statement of the opposite about the question itself ("Yes, there is no nodule",
    "No, there is a nodule"), a clause made only of the question's content words,
    stopwords, negations and finding words (``_FINDING_WORDS``)."""
    other = _OPPOSITE[lead]
    reply = _NO_REPLY if other == "no" else _YES_REPLY
    rest = text.lstrip(_LEADING)
    rest = rest[len(_WORD.match(rest).group(0)) :] if _WORD.match(rest) else rest
    if reply.search(rest):
        return AMBIGUOUS
    if any(vote == other and bare for vote, bare in _statement_votes(text, content)):
        return AMBIGUOUS
    return Extraction(lead)


def _stem(word: str) -> str:
    """Singular form, enough to match "nodules" with "nodule" and "masses" with "mass"."""
    if len(word) <= 3 or word.endswith("ss"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _content_words(question: str) -> frozenset[str]:
    words = _WORD.findall(clean(question).lower())
    return frozenset(_stem(w) for w in words if w not in _QUESTION_STOPWORDS)


_STOP_STEMS = frozenset(_stem(w) for w in _QUESTION_STOPWORDS)


def _statement_votes(text: str, content: frozenset[str]) -> list[tuple[str, bool]]:
    """``(vote, bare)`` per clause that states something about the question's content;
    ``bare``: the clause says nothing else (see ``_decided_by_lead``)."""
    votes: list[tuple[str, bool]] = []
    if not content:
        return votes
    for clause in _CLAUSE_SPLIT.split(text):
        if _HEDGING.search(clause):
            continue
        words = {_stem(w) for w in _WORD.findall(clause)}
        negated = _NEGATION.search(clause) is not None
        extra = {
            w
            for w in words - content - _STOP_STEMS - _NEGATION_WORDS - _FINDING_WORDS - _REPLY_WORDS
            if not w.endswith("n't")
        }
        if negated and words & content:
            votes.append(("no", not extra and content <= words))
        elif not negated and content <= words:
            votes.append(("yes", not extra))
    return votes


# ---- free-form answers --------------------------------------------------------------------


def extract_short_answer(response: str) -> Extraction:
    """The declared answer text of a free-form response, or invalid when nothing is left.

    Reasoning is unwrapped and the text ``clean``-ed (Markdown emphasis and surrounding
    quotes removed, full-width forms and CJK punctuation folded: "肝脏。" reads "肝脏.")."""
    text = clean(unwrap_reasoning(response)).strip().strip(_LEADING)
    if not answer_tokens(text):
        return EMPTY
    return Extraction(text)
