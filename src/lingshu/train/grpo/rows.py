"""Reading RL rows (CONTRACTS.md point 2): the question, its images and the gold columns.

A row is one conversation in the Qwen-messages, LLaVA or ShareGPT style plus ``answer``
(gold; a string or a list of accepted strings), ``question_type`` (mcq | yes_no | open |
numeric) and, for multiple choice, ``options`` ({"A": "...", ...}). Only the first user
turn matters to GRPO: it is the prompt; any assistant turn is ignored (the policy writes
its own). Image paths are relative to the JSONL file's folder.

``parse_rl_row`` returns an ``RLRow`` or raises ``RowError`` with a short reason; callers
count and record the reason and go on (a bad row never stops a run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.train.rewards import QUESTION_TYPES, infer_question_type

_IMAGE_TOKEN = re.compile(r"<image>\s*")


class RowError(ValueError):
    """Why one row cannot be used (a short, countable reason)."""


@dataclass
class RLRow:
    id: str
    question: str  # the user's text, image placeholders removed
    images: list[str]  # paths as written in the row
    answer: list[str]
    question_type: str
    options: dict[str, str] | None
    modality: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _text_and_images(content: Any) -> tuple[str, list[str]]:
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise RowError("user content is neither text nor a list of parts")
    texts, images = [], []
    for part in content:
        if not isinstance(part, dict):
            raise RowError("a content part is not an object")
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "image":
            img = part.get("image") or part.get("path") or part.get("url")
            if not isinstance(img, str) or not img:
                raise RowError("image part without a path")
            images.append(img)
        else:
            raise RowError(f"unsupported content part type {part.get('type')!r}")
    return "\n".join(texts), images


def _first_user_turn(row: dict[str, Any]) -> tuple[str, list[str]]:
    if isinstance(row.get("messages"), list):  # Qwen-messages or ShareGPT (role/content)
        for msg in row["messages"]:
            if isinstance(msg, dict) and msg.get("role") == "user":
                text, images = _text_and_images(msg.get("content"))
                extra = row.get("images") or []
                return text, images + [str(p) for p in extra]
        raise RowError("no user message")
    if isinstance(row.get("conversations"), list):  # LLaVA or ShareGPT (from/value)
        for msg in row["conversations"]:
            if isinstance(msg, dict) and msg.get("from") in ("human", "user"):
                text = str(msg.get("value", ""))
                image = row.get("image")
                if isinstance(image, str):
                    images = [image]
                else:
                    images = list(image or row.get("images") or [])
                return text, [str(p) for p in images]
        raise RowError("no human turn")
    raise RowError("no 'messages' or 'conversations' list")


def parse_rl_row(row: Any, index: int) -> RLRow:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    text, images = _first_user_turn(row)
    question = _IMAGE_TOKEN.sub("", text).strip()
    if not question:
        raise RowError("empty question")
    answer = row.get("answer")
    golds = [answer] if isinstance(answer, str) else answer
    if (
        not isinstance(golds, list)
        or not golds
        or not all(isinstance(a, str) and a.strip() for a in golds)
    ):
        raise RowError("missing or empty 'answer'")
    options = row.get("options")
    if options is not None and (
        not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values())
    ):
        raise RowError("'options' must map letters to strings")
    qtype = row.get("question_type") or infer_question_type(golds, options)
    if qtype not in QUESTION_TYPES:
        raise RowError(f"question_type {qtype!r} is not one of {', '.join(QUESTION_TYPES)}")
    if qtype == "mcq" and not options:
        raise RowError("mcq row without 'options'")
    return RLRow(
        id=str(row.get("id", f"row-{index}")),
        question=question,
        images=images,
        answer=[str(a) for a in golds],
        question_type=qtype,
        options=dict(options) if options else None,
        modality=str(row.get("modality") or "unknown"),
        raw=row,
    )


def resolve_image(path: str, base: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base / p
