"""Reasoning formats and the ``Extraction`` result shared by every answer parser.

- ``strip_think`` / ``unwrap_reasoning``: reasoning outputs. ``<think>...</think>`` blocks
  are dropped (an unclosed ``<think>`` drops everything after it: the model ran out of tokens
  before answering; a lone ``</think>`` drops everything before it, as chat templates that
  open the block in the prompt produce). The declared answer is then the content of the last
  ``<answer>...</answer>``, else of the last ``\\boxed{...}`` (nested braces balanced), else
  the text after the last "The answer is" / "Final answer:" / "Answer:" / "答案是", else the
  whole remaining text.
- ``Extraction``: a value, or ``None`` with the reason nothing unique was found ("empty",
  "not-found", "ambiguous", "out-of-range"). ``None`` means *invalid*: it is counted wrong
  and reported as the invalid rate, never replaced by a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRAILING = " \t\r\n.。!！;；,，:：'\"“”"
"""Punctuation around a bare answer ("B.", "是。")."""
LEADING = " \t\r\n'\"“”"
REVISION = re.compile(
    r"\b(?:actually|on\s+(?:second\s+thought|reflection|further\s+review)|i\s+mean|"
    r"correction|scratch\s+that|wait|let\s+me\s+correct)\b",
    re.IGNORECASE,
)
"""Self-revision markers: a careful grader gives no credit when the text after one answers
otherwise than the text before it ("The answer is C. Actually, on reflection, it is B.")."""


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
