"""The one protocol every model backend implements: a batch of requests in, responses out.

Backends never score and never cache: the runner does both, so caching, resume and
sharding behave the same for every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from lingshu.core.registry import Registry
from lingshu.eval.types import GenerationParams, Request, Response


class Backend(ABC):
    name: str

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model's outputs (weights hash or id, dtype, image limits...).

        Part of the response-cache key: two backends with equal fingerprints must give the
        same answers for the same request and generation parameters.
        """

    @abstractmethod
    def generate(self, requests: list[Request], params: GenerationParams) -> list[Response]:
        """Answer a batch, one ``Response`` per request, in order.

        A request that fails for a reason of its own (corrupt image, refused call after
        retries) gets ``Response(error=...)``; the rest of the batch still gets answers.
        """

    def preferred_batch_size(self) -> int:
        return 8

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, GPU memory)."""


BackendFactory = Callable[..., Backend]
BACKENDS: Registry[BackendFactory] = Registry("backend")


def get_backend(name: str, **options: Any) -> Backend:
    import lingshu.eval.backends  # noqa: F401  (registers every backend)

    return BACKENDS.get(name)(**options)
