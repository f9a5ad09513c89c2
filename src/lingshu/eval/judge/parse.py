"""Reading a verdict and a rationale out of a judge's answer, without ever guessing.

MedEvalKit takes the text of ``<judge>...</judge>`` (or the whole answer when the tag is
missing) and counts anything but "0" as *incorrect*, so a judge that rambles silently
lowers the score. Here an answer either states one verdict in a form listed below, or it is
a judge error (``Judgement.error`` says why) that the run records and excludes from
accuracy.

Accepted forms, tried in this order (the first form present decides):

1. JSON: an object (bare, in a ```json fence, or embedded in text) with a ``verdict`` /
   ``judgement`` / ``judgment`` / ``judge`` / ``correct`` / ``is_correct`` field holding
   ``true``/``false`` or a verdict word; rationale from ``rationale`` / ``reason`` /
   ``reasoning`` / ``explanation``.
2. Tags: ``<verdict>correct</verdict>`` or ``<judge>incorrect</judge>`` (every tag must
   agree). MedEvalKit's numeric code (``<judge>0</judge>`` = correct) is refused: digits
   mean opposite things to different judges, and our prompt asks for words.
3. Label lines: ``Verdict: correct`` (also ``Judgement:``, ``Decision:``, ``Final
   verdict:``, markdown emphasis allowed). The value is one verdict word, optionally
   after "not", or a verdict statement as in form 5; an echo of the instruction ("correct
   or incorrect") is not a verdict. Several label lines must agree.
4. A leading verdict word standing alone: "Correct.", "Incorrect", "Yes, both name the
   liver.", "No - a different organ." ("Correct answer is ..." is not this form: the word
   must be followed by punctuation, a line break or the end).
5. A first sentence that is only a verdict statement: "The user's answer is incorrect."
   (a conditional or a contrast in the same sentence, "... is correct if ...", "... is
   correct, but ...", is not).

Verdict words: correct / right / yes / true and incorrect / wrong / no / false. ``<think>``
blocks (reasoning judges) are removed first and serve as the rationale when the answer
gives none; an answer that ends inside ``<think>`` has no verdict.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

VERDICT_WORDS: dict[str, bool] = {
    "correct": True, "right": True, "yes": True, "true": True,
    "incorrect": False, "wrong": False, "no": False, "false": False,
}  # fmt: skip

_WORD = "|".join(VERDICT_WORDS)
_EMPH = "*_`\"'"  # markdown emphasis and quotes around a value
_VALUE = re.compile(
    rf"^[\s{_EMPH}]*(not\s+)?({_WORD})(?![\w-])[{_EMPH}]*(.*)$", re.IGNORECASE | re.DOTALL
)
_ECHO = re.compile(r"^\s*(?:or\b|/|\|)", re.IGNORECASE)
_LABEL = re.compile(
    r"^[\s*#>_-]*(?:final\s+)?(?:verdict|judge?ment|decision)[\s*_]*[:：][\s*_]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_RATIONALE_LABEL = re.compile(
    r"^[\s*#>_-]*(?:rationale|reason(?:ing)?|explanation)[\s*_]*[:：][\s*_]*", re.IGNORECASE
)
_TAG = re.compile(r"<(verdict|judge)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_THINK = re.compile(r"<think>(.*?)</think>", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.IGNORECASE | re.DOTALL)
_BARE = re.compile(
    rf"^[\s{_EMPH}]*(not\s+)?({_WORD})[{_EMPH}]*[ \t]*(?:[.!,;:\-–—)]|\n|$)(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_STATEMENT = re.compile(
    r"^(?:the\s+)?(?:user'?s\s+|model'?s\s+|given\s+)?answer\s+is\s+(not\s+)?"
    r"(correct|incorrect|right|wrong)\s*[.!]?$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")

_JSON_VERDICT_KEYS = ("verdict", "judgement", "judgment", "judge", "correct", "is_correct")
_JSON_RATIONALE_KEYS = ("rationale", "reason", "reasoning", "explanation")


@dataclass(frozen=True)
class Judgement:
    """A parsed judge answer: ``verdict`` True (correct) / False (incorrect), or None with
    ``error`` saying why no verdict could be read. ``form`` names the form that matched."""

    verdict: bool | None
    rationale: str | None = None
    error: str | None = None
    form: str | None = None


class _NoVerdict(Exception):
    """The answer has this form but no readable verdict in it: a judge error."""


def parse_judgement(text: str | None) -> Judgement:
    """The verdict and rationale stated in ``text``, or a ``Judgement`` with ``error``."""
    if text is None or not text.strip():
        return Judgement(None, error="empty judge answer")
    think = " ".join(t.strip() for t in _THINK.findall(text)).strip() or None
    body = _THINK.sub(" ", text).strip()
    if re.search(r"<think>", body, re.IGNORECASE):
        return _error("the answer ended inside <think> (raise the judge's max_tokens?)", text)
    if not body:
        return _error("only <think> reasoning, no verdict", text)
    for form, reader in _READERS:
        try:
            found = reader(body)
        except _NoVerdict as e:
            return _error(str(e), text)
        if found is not None:
            verdict, rationale = found
            return Judgement(verdict, rationale=_clean(rationale) or think, form=form)
    return _error("no verdict in any accepted form", text)


def _error(reason: str, text: str) -> Judgement:
    snippet = " ".join(text.split())
    snippet = snippet if len(snippet) <= 160 else snippet[:157] + "..."
    return Judgement(None, error=f"unparseable judge answer ({reason}): {snippet!r}")


def _clean(text: str | None) -> str | None:
    if not text:
        return None
    lines = [
        _RATIONALE_LABEL.sub("", line).strip().lstrip("-–—:;,. ") for line in text.splitlines()
    ]
    out = " ".join(ln for ln in lines if ln)
    return out or None


def _word(value: str) -> tuple[bool, str] | None:
    """``(verdict, rest)`` when ``value`` starts with one (optionally negated) verdict word
    that is not part of an "a or b" echo; else None."""
    m = _VALUE.match(value)
    if m is None or _ECHO.match(m.group(3)):
        return None
    verdict = VERDICT_WORDS[m.group(2).lower()]
    return (not verdict if m.group(1) else verdict), m.group(3)


# ---- the forms ----------------------------------------------------------------------------


def _from_json(body: str) -> tuple[bool, str | None] | None:
    found = _json_object(body)
    if found is None:
        return None
    obj, whole = found
    key = next((k for k in obj if k.lower() in _JSON_VERDICT_KEYS), None)
    if key is None:
        if not whole:
            return None  # braces inside prose: let the other forms read it
        expected = ", ".join(_JSON_VERDICT_KEYS)
        raise _NoVerdict(f"JSON without a verdict field (expected one of {expected})")
    value = obj[key]
    if isinstance(value, bool):
        verdict = value
    elif isinstance(value, str) and (got := _word(value)) is not None and not got[1].strip(" .!"):
        verdict = got[0]
    else:
        raise _NoVerdict(f"JSON field {key!r} holds {value!r}, not true/false or correct/incorrect")
    rkey = next((k for k in obj if k.lower() in _JSON_RATIONALE_KEYS), None)
    rationale = obj[rkey] if rkey is not None and isinstance(obj[rkey], str) else None
    return verdict, rationale


def _json_object(body: str) -> tuple[dict[str, Any], bool] | None:
    """The first JSON object in ``body`` and whether it is the whole answer (bare or as the
    only content of a code fence)."""
    fenced = _FENCE.findall(body)
    whole = [body, *fenced] if not _FENCE.sub("", body).strip() else [body]
    start, end = body.find("{"), body.rfind("}")
    embedded = [body[start : end + 1]] if 0 <= start < end else []
    for candidates, is_whole in ((whole, True), (fenced + embedded, False)):
        for c in candidates:
            try:
                obj = json.loads(c.strip())
            except ValueError:
                continue
            if isinstance(obj, dict):
                return obj, is_whole
    return None


def _from_tags(body: str) -> tuple[bool, str | None] | None:
    tags = _TAG.findall(body)
    if not tags:
        return None
    verdicts = set()
    for name, value in tags:
        value = value.strip()
        if value.strip(_EMPH + " .") in ("0", "1"):
            raise _NoVerdict(
                f"numeric <{name}>{value}</{name}> is ambiguous (MedEvalKit's code is 0 = "
                "correct); the prompt asks for correct/incorrect"
            )
        got = _word(value)
        if got is None or got[1].strip(" .!"):
            raise _NoVerdict(f"<{name}> holds {value[:40]!r}, not correct/incorrect")
        verdicts.add(got[0])
    if len(verdicts) > 1:
        raise _NoVerdict("the answer's tags give both verdicts")
    return verdicts.pop(), _TAG.sub(" ", body)


def _from_labels(body: str) -> tuple[bool, str | None] | None:
    lines = list(_LABEL.finditer(body))
    if not lines:
        return None
    verdicts, rests = set(), []
    for m in lines:
        got = _word(m.group(1)) or _statement(m.group(1))
        if got is not None:
            verdicts.add(got[0])
            rests.append(got[1])
    if not verdicts:
        shown = lines[0].group(0).strip()[:60]
        raise _NoVerdict(f"verdict line {shown!r} names no single verdict")
    if len(verdicts) > 1:
        raise _NoVerdict("verdict lines disagree")
    rest = "\n".join([*rests, _LABEL.sub("", body)])
    return verdicts.pop(), rest


def _from_bare_word(body: str) -> tuple[bool, str | None] | None:
    m = _BARE.match(body)
    if m is None:
        return None
    verdict = VERDICT_WORDS[m.group(2).lower()]
    return (not verdict if m.group(1) else verdict), m.group(3)


def _statement(text: str) -> tuple[bool, str] | None:
    """``(verdict, rest)`` when the first sentence of ``text`` is only a verdict statement."""
    parts = _SENTENCE_END.split(text.strip(), maxsplit=1)
    m = _STATEMENT.match(parts[0].strip(_EMPH + " "))
    if m is None:
        return None
    verdict = VERDICT_WORDS[m.group(2).lower()]
    return (not verdict if m.group(1) else verdict), parts[1] if len(parts) > 1 else ""


def _from_statement(body: str) -> tuple[bool, str | None] | None:
    return _statement(body)


_READERS = (
    ("json", _from_json),
    ("tag", _from_tags),
    ("label", _from_labels),
    ("word", _from_bare_word),
    ("statement", _from_statement),
)
