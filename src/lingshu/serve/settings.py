"""What a running server allows: the ``lingshu serve`` options, as one typed object."""

from __future__ import annotations

from dataclasses import dataclass, field

from lingshu.serve.images import ImagePolicy


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one server. Defaults are the safe choice for a laptop.

    ``allowed_hosts``: Host header names accepted (``None``: any); the command sets the
    loopback names when it binds to loopback. ``default_temperature`` is OpenAI's 1.0:
    clients that want reproducible answers send ``temperature: 0``.
    """

    served_model_name: str
    api_key: str | None = None
    ui: bool = False
    max_body_bytes: int = 20 * 2**20  # OpenAI's own per-image limit is 20 MB
    images: ImagePolicy = field(default_factory=ImagePolicy)
    max_images_per_request: int = 16
    allowed_hosts: tuple[str, ...] | None = None
    default_max_tokens: int = 512
    default_temperature: float = 1.0
    max_tokens_limit: int | None = None
    """Largest ``max_tokens`` a request may ask for (400 above); ``None``: the model's
    context length, but at most ``MAX_TOKENS_CEILING``."""

    def max_tokens_cap(self, context_length: int) -> int:
        """The enforced limit: the configured one, else what the model's context allows."""
        if self.max_tokens_limit is not None:
            return self.max_tokens_limit
        return max(1, min(context_length, MAX_TOKENS_CEILING))


MAX_TOKENS_CEILING = 4096
"""Default cap on one answer when the context would allow more: 4,096 tokens is longer than
any report or chat answer we expect, and one request asking for a 32k-token answer would
otherwise hold a batch slot for minutes (vLLM's OpenAI server caps by context length only;
we prefer a bound a client can see in the error message)."""
