"""What flows through the inference layer: chat messages, decoding settings, requests and
responses.

Everything here is plain data, JSON-serialisable. ``GenerationParams.to_dict`` and the
message shape are part of the evaluation response-cache key (``lingshu.eval.cache``):
changing a field or its default changes every key, so existing caches would stop hitting.

``GenerationParams`` is the one type for decoding settings from the command line to the
decoder: ``lingshu eval run`` validates its options into it, the evaluation config holds
it, every backend and the engine read it. Before issue 18 ``max_new_tokens`` changed type
six times on that way (int, dict, a pydantic model built at run time, a dataclass, the
engine's own ``SamplingParams``, the dataclass again) and each copy checked other things.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from pydantic import Field

from lingshu.core.config import FrozenStrictModel

Message = dict[str, Any]
"""A chat message: ``{"role": "user", "content": [{"type": "image", "image": "/abs/path.png"},
{"type": "text", "text": "..."}]}``. Image parts carry a local path; backends turn them into
pixels (hf) or data URIs (openai). ``lingshu.inference.messages`` builds them."""

SEED_MAX = 2**63 - 1
"""Largest seed: a signed 64-bit integer fits every backend's seed (``torch.Generator``,
vLLM, OpenAI-compatible endpoints)."""


class GenerationParams(FrozenStrictModel):
    """Decoding settings. Greedy by default (temperature 0) so runs are reproducible.

    Frozen and hashable: the engine's queue compares them to batch requests together, and
    :meth:`to_dict` is part of the response-cache key.
    """

    GREEDY_BELOW: ClassVar[float] = 1e-5
    """Temperatures under this decode greedily: that is what they approach, and dividing
    logits by a near-zero temperature can overflow to inf and NaN probabilities."""

    max_new_tokens: int = Field(256, ge=1, description="longest answer, in new tokens")
    temperature: float = Field(
        0.0, ge=0.0, allow_inf_nan=False,
        description="0 = greedy (reproducible); higher = more varied sampling",
    )  # fmt: skip
    top_p: float = Field(
        1.0, gt=0.0, le=1.0, allow_inf_nan=False,
        description="nucleus sampling: sample from the smallest set of tokens holding this "
        "probability mass (with temperature > 0)",
    )  # fmt: skip
    seed: int | None = Field(
        0, ge=0, le=SEED_MAX,
        description="seed of the sampling stream; None (server, chat) = a fresh random seed",
    )  # fmt: skip
    stop: tuple[str, ...] = Field(
        (), description="strings that end the answer where they first appear (not included)"
    )

    @classmethod
    def from_client(
        cls,
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: tuple[str, ...] = (),
    ) -> GenerationParams:
        """Settings as an OpenAI client or a chat user gives them: ``top_p`` 0 is allowed
        there and means greedy (the limit of a shrinking nucleus), and no seed means a
        fresh random one. Raises ``pydantic.ValidationError`` like the constructor."""
        if top_p <= 0.0:
            temperature, top_p = 0.0, 1.0
        return cls(
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed,
            stop=tuple(stop),
        )  # fmt: skip

    @property
    def greedy(self) -> bool:
        return self.temperature < self.GREEDY_BELOW

    def batch_key(self, per_row_seeds: bool) -> tuple[Any, ...] | None:
        """Queued requests with equal keys may share a batch; ``None``: run alone.

        ``per_row_seeds``: whether the decoding strategy gives each row its own random
        stream (the fast decoder); with one stream per batch a seeded request must run
        alone, since a shared stream would make its answer depend on its neighbours.
        """
        if self.greedy:
            return ("greedy",)
        if self.seed is not None and not per_row_seeds:
            return None
        return ("sample", self.temperature, self.top_p)

    def to_dict(self) -> dict[str, Any]:
        """The cache-key form: field order and ``stop`` as a list, as since issue 3."""
        d = self.model_dump()
        d["stop"] = list(self.stop)
        return d


def SamplingParams(  # noqa: N802 - the engine's former class name, kept as a constructor
    max_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: tuple[str, ...] = (),
) -> GenerationParams:
    """Deprecated spelling of :meth:`GenerationParams.from_client` (the engine's own
    parameter type before issue 18, whose ``max_tokens`` is ``max_new_tokens`` and whose
    seed defaulted to none). It builds a ``GenerationParams``; new code builds that."""
    return GenerationParams.from_client(
        max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=stop
    )


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
