"""Building our chat messages, and turning them into what remote engines take
(OpenAI-compatible endpoints, vLLM's chat API); local models are encoded by
``lingshu.inference.encoding``.

Every area builds its messages here (:func:`user_message`, :func:`assistant_message`,
:func:`conversation`): evaluation prompts, ``lingshu chat``, curation's model calls and
records, GRPO prompts, the pipeline's stage data. The shape is part of the response-cache
key and of every curated file, so it is written once: image parts first, then the text.

Our messages (``lingshu.inference.types.Message``) carry image parts as local paths:
``{"type": "image", "image": "/abs/path.png"}``. Transformers' Qwen2.5-VL template wants
the same parts plus the decoded pixels; OpenAI-compatible endpoints and vLLM's chat API
want ``image_url`` parts holding data URIs; text-only chat templates want plain strings.
Each conversion raises ``SampleError`` for a bad image, which backends turn into an error
for that request only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lingshu.core.errors import SampleError
from lingshu.inference.types import Message
from lingshu.models.images import image_to_data_uri


def image_part(path: str) -> dict[str, Any]:
    return {"type": "image", "image": path}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def user_message(text: str, images: Iterable[str | dict[str, Any]] = ()) -> Message:
    """A user turn: one image part per image (a path, or a part kept as it is), then the
    text. Image first is Qwen2.5-VL's and MedEvalKit's order."""
    content = [p if isinstance(p, dict) else image_part(p) for p in images]
    content.append(text_part(text))
    return {"role": "user", "content": content}


def assistant_message(text: str) -> Message:
    """An assistant turn holding one text part."""
    return {"role": "assistant", "content": [text_part(text)]}


def conversation(
    question: str, answer: str, images: Iterable[str | dict[str, Any]] = ()
) -> list[Message]:
    """A one-turn training conversation: the question (after its images), the answer."""
    return [user_message(question, images), assistant_message(answer)]


def parts(message: Message) -> list[dict[str, Any]]:
    """The content of ``message`` as a list of parts (a plain string is one text part)."""
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def image_path(part: dict[str, Any]) -> str:
    value = part.get("image") or part.get("path")
    if not isinstance(value, str) or not value:
        raise SampleError(f"image part without a file path: {sorted(part)}")
    return value


def prompt_text(messages: Iterable[Message]) -> str:
    """All text parts, joined by newlines (for heuristics such as the dummy backend)."""
    return "\n".join(
        p.get("text", "") for m in messages for p in parts(m) if p.get("type") == "text"
    )


def to_openai(messages: list[Message]) -> list[dict[str, Any]]:
    """OpenAI chat format: text parts kept, image parts as ``image_url`` data URIs."""
    out = []
    for m in messages:
        if isinstance(m.get("content"), str):
            out.append({"role": m["role"], "content": m["content"]})
            continue
        content = []
        for p in parts(m):
            if p.get("type") == "image":
                path = image_path(p)
                url = (
                    path
                    if path.startswith(("data:", "http://", "https://"))
                    else image_to_data_uri(path)
                )
                content.append({"type": "image_url", "image_url": {"url": url}})
            elif p.get("type") == "text":
                content.append({"type": "text", "text": p.get("text", "")})
            else:
                raise SampleError(f"message part of type {p.get('type')!r} is not supported")
        out.append({"role": m["role"], "content": content})
    return out
