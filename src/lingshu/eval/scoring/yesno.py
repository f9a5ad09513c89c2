"""Yes / no out of a response to a polar question, by whole words and aware of negation.

Used by the ``strict`` profile for English answers (and Chinese ones that open with 是 / 否;
``lingshu.eval.scoring.chinese`` reads Chinese answers by meaning). Besides reply words and
statements about the question (see ``extract_yes_no``), a careful grader's readings:

- a changed answer is invalid: "No. Actually, yes", "The answer is no; correction: yes"
  (``_REVISION``); a restatement of the same answer is not;
- a double negation is a hedge ("not unlikely", "cannot be excluded"): the clause votes
  nothing, so a response made only of it is invalid, never read as "no";
- one-word replies a grader reads as yes / no (``_BARE_YES`` / ``_BARE_NO``): "Absolutely.",
  "Definitely.", "Correct."; "None.", "Negative.", "Absent." (and "Present.", "Positive.")
  only to a question about presence;
- normality: "Normal." / "Abnormal." / "Nothing abnormal is seen." answer a question that
  asks whether something is normal or abnormal (``_normality_votes``);
- short pronoun replies: "They cannot.", "It is not.", "It does." to a question opened by
  an auxiliary verb.
"""

from __future__ import annotations

import re

from lingshu.eval.scoring.normalize import POLAR_OPENERS, clean
from lingshu.eval.scoring.reasoning import (
    AMBIGUOUS,
    EMPTY,
    LEADING as _LEADING,
    NOT_FOUND,
    REVISION as _REVISION,
    TRAILING as _TRAILING,
    Extraction,
    strip_think,
    unwrap_reasoning,
)

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
    r"might|perhaps|cannot\s+be\s+(?:excluded|ruled\s+out)|can't\s+be\s+(?:excluded|ruled\s+out)|"
    r"not\s+(?:be\s+)?(?:unlikely|impossible|improbable|excluded|ruled\s+out)|"
    r"(?:cannot|can't|couldn't|could\s+not)\s+(?:exclude|rule\s+out))\b"
)
_BARE_YES = frozenset(
    "absolutely definitely certainly indeed correct affirmative true sure of course".split()
    + ["of course", "that's right", "that is right", "it is", "it does"]
)
_BARE_NO = frozenset(
    ["not at all", "definitely not", "certainly not", "absolutely not", "incorrect", "false",
     "never", "of course not"]
)  # fmt: skip
# Replies that answer a question about presence ("Is there ...?", "... present?").
_PRESENCE_YES = frozenset({"present", "positive", "seen", "visible"})
_PRESENCE_NO = frozenset({"none", "negative", "absent", "nothing", "not present", "not seen"})
_PRESENCE_QUESTION = re.compile(
    r"^(?:is|are|was|were)\s+there\b|\b(?:present|presence|evidence|contain|contains|"
    r"seen|visible|show|shows|noted|identified|detected|observed)\b"
)
_ABNORMAL = re.compile(r"\babnormal(?:ity|ities|ly)?\b")
_NORMAL = re.compile(r"\b(?:normal|unremarkable)\b|\bwithin\s+normal\s+limits\b")
# Words before "abnormality" that make the clause about another finding than the question's.
_OTHER_WORDS = frozenset({"other", "additional", "further", "else"})
_PRONOUN_REPLY = re.compile(
    r"(?:it|they|there|this|these|that|he|she)\s+"
    r"(is|are|was|were|does|do|did|can|could|has|have|will|would)(n't|\s+not)?|"
    r"(?:it|they|there|this|these|that|he|she)\s+(cannot)"
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
    revision = _REVISION.search(text)
    if revision is None:
        return _read(text, question)
    before = _read(text[: revision.start()], question)
    after = _read(text[revision.end() :], question)
    if before.value and after.value and before.value != after.value:
        return AMBIGUOUS  # "No. Actually, yes": a changed answer
    return before if before.value else after if after.value else _read(text, question)


def _read(text: str, question: str | None) -> Extraction:
    """The votes of ``extract_yes_no`` on one stretch of declared answer."""
    if not text.strip(_TRAILING + _LEADING):
        return EMPTY
    bare = _bare_reply(text, question)
    if bare is not None:
        return Extraction(bare)
    words = _WORD.findall(text)
    content = _content_words(question) if question else frozenset()
    normality = _normality_votes(text, question) if question else set()
    lead = _leading_answer(text, words)
    if lead is not None:
        if _OPPOSITE[lead] in normality:
            return AMBIGUOUS  # "Yes, abnormal" to "Is it normal?"
        return _decided_by_lead(lead, text, content)
    votes: set[str] = set(normality)
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


def _bare_reply(text: str, question: str | None) -> str | None:
    """A whole reply a grader reads as yes / no (module docstring), else None."""
    bare = " ".join(_WORD.findall(text.strip(_TRAILING + _LEADING)))
    if not bare or len(bare.split()) > 3:
        return None
    if bare in _BARE_YES:
        return "yes"
    if bare in _BARE_NO:
        return "no"
    q = clean(question or "").lower().strip()
    if _PRESENCE_QUESTION.search(q):
        if bare in _PRESENCE_YES:
            return "yes"
        if bare in _PRESENCE_NO:
            return "no"
    pronoun = _PRONOUN_REPLY.fullmatch(bare)
    q_words = _WORD.findall(q)
    if pronoun and q_words and q_words[0] in POLAR_OPENERS:
        return "no" if pronoun.group(2) or pronoun.group(3) else "yes"
    return None


def _normality_votes(text: str, question: str) -> set[str]:
    """Votes of clauses that call something normal or abnormal, for a question asking
    whether something is normal ("Are the ventricles normal?") or abnormal ("Is there an
    abnormality?"); a negation in the clause flips the reading ("Nothing abnormal is seen"
    is normal, "Not normal" abnormal). Other questions get none: "Normal" does not say
    whether there is a pneumothorax. Only a negation among the three words before the
    term counts, so "normal with no focal lesion" stays normal."""
    q = clean(question).lower()
    asks = "abnormal" if _ABNORMAL.search(q) else "normal" if _NORMAL.search(q) else None
    if asks is None:
        return set()
    votes: set[str] = set()
    for clause in _CLAUSE_SPLIT.split(text):
        found = _ABNORMAL.search(clause) or _NORMAL.search(clause)
        if found is None or _HEDGING.search(clause):
            continue
        state = "abnormal" if _ABNORMAL.match(found.group(0)) else "normal"
        before = _WORD.findall(clause[: found.start()])[-3:]
        if _OTHER_WORDS & set(before):
            continue  # "No other abnormality is seen": about something else
        if _NEGATION.search(" ".join(before)):
            state = "normal" if state == "abnormal" else "abnormal"
        votes.add("yes" if state == asks else "no")
    return votes


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
