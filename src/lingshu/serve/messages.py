"""OpenAI chat messages -> the engine's messages (``lingshu.inference.Message`` shape).

Image parts become ``{"type": "image", "image": <PIL image>}`` after their URL is decoded
under the server's :class:`~lingshu.serve.images.ImagePolicy`, all of a request's images
sharing one :class:`~lingshu.serve.images.PixelBudget`; ``developer`` turns (OpenAI's
newer name for system instructions) become ``system`` turns, which chat templates know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lingshu.serve.errors import bad_request
from lingshu.serve.images import ImagePolicy, PixelBudget, decode_image_bytes, decode_image_url
from lingshu.serve.schemas import ChatMessage


def image_parts(messages: list[ChatMessage], max_images: int) -> list[tuple[str, str]]:
    """``(param, url)`` of every image part, refusing images outside user turns and more
    than ``max_images``: checked before anything is fetched or decoded."""
    found: list[tuple[str, str]] = []
    for i, msg in enumerate(messages):
        if msg.content is None or isinstance(msg.content, str):
            continue
        for j, part in enumerate(msg.content):
            if part.type == "text":
                continue
            param = f"messages[{i}].content[{j}]"
            if msg.role != "user":
                raise bad_request(
                    f"{param}: images are accepted in user messages only", param=param
                )
            if len(found) >= max_images:
                raise bad_request(
                    f"too many images: this server accepts at most {max_images} per request",
                    param=param,
                    code="too_many_images",
                )
            found.append((f"{param}.image_url", part.url))
    return found


def to_engine_messages(
    messages: list[ChatMessage],
    policy: ImagePolicy,
    max_images: int,
    fetched: Mapping[str, bytes] | None = None,
) -> list[dict[str, Any]]:
    """The engine's messages; ``fetched`` holds the bytes of remote image URLs already
    fetched (by the app, on its event loop)."""
    image_parts(messages, max_images)
    fetched = fetched or {}
    budget = PixelBudget.of(policy)
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        role = "system" if msg.role == "developer" else msg.role
        if msg.content is None or isinstance(msg.content, str):
            out.append({"role": role, "content": msg.content or ""})
            continue
        parts: list[dict[str, Any]] = []
        for j, part in enumerate(msg.content):
            if part.type == "text":
                parts.append({"type": "text", "text": part.text})
                continue
            param = f"messages[{i}].content[{j}].image_url"
            if part.url in fetched:
                image = decode_image_bytes(fetched[part.url], policy, param, budget)
            else:
                image = decode_image_url(part.url, policy, param, budget)
            parts.append({"type": "image", "image": image})
        out.append({"role": role, "content": parts})
    return out
