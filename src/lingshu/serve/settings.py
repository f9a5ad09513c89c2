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
