"""OpenAI chat messages -> the engine's messages (``lingshu.inference.Message`` shape).

Image parts become ``{"type": "image", "image": <PIL image>}`` after their URL is decoded
under the server's :class:`~lingshu.serve.images.ImagePolicy`; ``developer`` turns (OpenAI's
newer name for system instructions) become ``system`` turns, which chat templates know.
"""

from __future__ import annotations

from typing import Any

from lingshu.serve.errors import bad_request
from lingshu.serve.images import ImagePolicy, decode_image_url
from lingshu.serve.schemas import ChatMessage


def to_engine_messages(
    messages: list[ChatMessage], policy: ImagePolicy, max_images: int
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    n_images = 0
    for i, msg in enumerate(messages):
        role = "system" if msg.role == "developer" else msg.role
        if msg.content is None or isinstance(msg.content, str):
            out.append({"role": role, "content": msg.content or ""})
            continue
        parts: list[dict[str, Any]] = []
        for j, part in enumerate(msg.content):
            param = f"messages[{i}].content[{j}]"
            if part.type == "text":
                parts.append({"type": "text", "text": part.text})
                continue
            if role != "user":
                raise bad_request(
                    f"{param}: images are accepted in user messages only", param=param
                )
            n_images += 1
            if n_images > max_images:
                raise bad_request(
                    f"too many images: this server accepts at most {max_images} per request",
                    param=param,
                    code="too_many_images",
                )
            parts.append(
                {"type": "image", "image": decode_image_url(part.url, policy, f"{param}.image_url")}
            )
        out.append({"role": role, "content": parts})
    return out
