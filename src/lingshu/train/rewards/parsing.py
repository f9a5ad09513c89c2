"""Strict parsing of ``<think>...</think>`` / ``<answer>...</answer>`` completions.

Why not one regular expression as in Med-R1 (``<think>.*?</think>\\s*<answer>.*?</answer>``,
BRIEF §2)? A lazy pattern accepts ``<think>a</think><answer>B</answer><answer>C</answer>``
prefixes when used with ``search``, accepts nested tags inside the blocks, and backtracks
over very long thinking. Here the text is scanned once for every tag-like token, in any
letter case and with stray spaces (``<Answer>``, ``< /answer >``), and the *sequence of
tags* is checked: the structure is valid only when the tags are exactly the expected ones,
spelled exactly in lower case, with only whitespace outside the blocks. A tag in another
case is therefore never an answer block, and counts as a stray (nested) tag.

Policy decisions (golden-tested in ``tests/train/rewards/golden``):

- an empty or whitespace-only ``<answer>`` (or ``<think>`` in the thinking variant) is not
  a valid block: the format asks for an answer, and an empty block would let a policy
  collect the format reward by saying nothing;
- the answer is the text of the single well-formed answer block; two answer blocks,
  an answer block inside ``<think>``, or any tag inside the answer block mean "no answer";
- length is not limited here: very long thinking is still well formed (the completion
  length cap belongs to the trainer's ``max_completion_length``).
"""

from __future__ import annotations

import re

# Any tag-like token for think/answer, whatever its case or inner spacing.
_TAG = re.compile(r"<\s*(/?)\s*(think|answer)\s*>", re.IGNORECASE)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def _tags(text: str) -> list[re.Match[str]]:
    return list(_TAG.finditer(text))


def _blocks_match(text: str, expected: list[str]) -> list[str] | None:
    """If the tags of ``text`` are exactly ``expected`` (pairs of open/close, spelled exactly)
    with only whitespace outside the pairs, return each pair's inner text; else ``None``."""
    tags = _tags(text)
    if [m.group(0) for m in tags] != expected:
        return None
    inner: list[str] = []
    pos = 0
    for open_tag, close_tag in zip(tags[0::2], tags[1::2], strict=True):
        if text[pos : open_tag.start()].strip():
            return None  # text outside a block
        inner.append(text[open_tag.end() : close_tag.start()])
        pos = close_tag.end()
    if text[pos:].strip():
        return None
    return inner


def is_strict_thinking(text: str) -> bool:
    """Exactly ``<think>x</think><answer>y</answer>``, x and y not blank, only whitespace
    around and between, no other think/answer tag in any case."""
    inner = _blocks_match(text, [THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE])
    return inner is not None and all(part.strip() for part in inner)


def is_strict_answer_only(text: str) -> bool:
    """Exactly ``<answer>y</answer>``, y not blank, nothing else but whitespace."""
    inner = _blocks_match(text, [ANSWER_OPEN, ANSWER_CLOSE])
    return inner is not None and bool(inner[0].strip())


def extract_answer(text: str) -> str | None:
    """The stripped content of the one well-formed answer block, or ``None``.

    ``None`` when there is no ``<answer>...</answer>`` pair spelled exactly, more than one
    answer-like tag pair (any case), an answer block inside an open ``<think>``, any tag
    inside the answer block, or a blank answer. Text outside the answer block (thinking, or
    chatter the format reward punishes) does not matter here.
    """
    tags = _tags(text)
    answer_tags = [m for m in tags if m.group(2).lower() == "answer"]
    if [m.group(0) for m in answer_tags] != [ANSWER_OPEN, ANSWER_CLOSE]:
        return None
    open_tag, close_tag = answer_tags
    inside = [m for m in tags if open_tag.start() < m.start() < close_tag.start()]
    if inside:
        return None
    depth = 0  # think blocks open before the answer starts
    for m in tags:
        if m.start() >= open_tag.start():
            break
        if m.group(2).lower() == "think":
            depth += -1 if m.group(1) else 1
    if depth != 0:
        return None
    content = text[open_tag.end() : close_tag.start()].strip()
    return content or None
