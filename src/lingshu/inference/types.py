"""What flows through the inference layer: chat messages, decoding settings, requests and
responses.

Everything here is plain data, JSON-serialisable. ``GenerationParams.to_dict`` and the
message shape are part of the evaluation response-cache key (``lingshu.eval.cache``):
changing a field or its default changes every key, so existing caches would stop hitting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


Message = dict[str, Any]
"""A chat message: ``{"role": "user", "content": [{"type": "image", "image": "/abs/path.png"},
{"type": "text", "text": "..."}]}``. Image parts carry a local path; backends turn them into
pixels (hf) or data URIs (openai)."""


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings. Greedy by default (temperature 0) so runs are reproducible."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class Request:
    id: str  # the sample id
    messages: list[Message]


@dataclass
class Response:
    """A backend's answer. ``error`` set means the request failed finally (after retries):
    it is recorded as an error and never scored as a wrong answer."""

    text: str = ""
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
