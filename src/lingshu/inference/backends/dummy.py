"""``dummy``: deterministic answers without a model, so the whole pipeline runs in tests.

The answer is a pure function of the request's messages (their sha256): a letter among
the options for multiple-choice prompts, ``yes``/``no`` for yes/no prompts, a word from a
fixed list otherwise. Order, batching, sharding and resuming therefore never change it.

``fail_every=N`` makes about one request in N fail, chosen by the sha256 of its id (not
by position), so the same samples fail in a sharded, resumed or reordered run.
``latency_s`` sleeps once per ``generate`` call, which gives tests time to kill a run.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from pydantic import Field

from lingshu.core.hashing import stable_json
from lingshu.inference import messages as _messages
from lingshu.inference.backends.base import Backend, BackendConfig, register_backend
from lingshu.inference.types import GenerationParams, Message, Request, Response

DUMMY_VERSION = "1"
WORDS = ("normal", "lung", "liver", "ct", "mri", "fracture", "heart", "brain", "kidney", "left")
_OPTION_LINE = re.compile(r"^\s*\(?([A-J])[.):]\s+\S", re.MULTILINE)
_YES_NO = re.compile(r"\byes\b.*\bno\b|\bno\b.*\byes\b", re.IGNORECASE | re.DOTALL)


class DummyConfig(BackendConfig):
    latency_s: float = Field(0.0, ge=0, description="seconds to sleep per generate call")
    fail_every: int = Field(
        0, ge=0, description="about 1 request in N fails (chosen by id hash); 0 = never"
    )
    batch_size: int = Field(8, ge=1, description="preferred batch size reported to the runner")


def dummy_answer(messages: list[Message]) -> str:
    """The deterministic answer to ``messages``."""
    digest = int(hashlib.sha256(stable_json(messages).encode("utf-8")).hexdigest(), 16)
    text = _messages.prompt_text(messages)
    letters = sorted(set(_OPTION_LINE.findall(text)))
    if len(letters) >= 2:
        return letters[digest % len(letters)]
    if _YES_NO.search(text):
        return ("yes", "no")[digest % 2]
    return WORDS[digest % len(WORDS)]


def dummy_fails(request_id: str, fail_every: int) -> bool:
    if fail_every <= 0:
        return False
    return int(hashlib.sha256(request_id.encode("utf-8")).hexdigest(), 16) % fail_every == 0


@register_backend("dummy")
class DummyBackend(Backend):
    Config = DummyConfig

    def __init__(self, config: DummyConfig) -> None:
        self.config = config

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": "dummy", "version": DUMMY_VERSION}

    def preferred_batch_size(self) -> int:
        return self.config.batch_size

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Response]:
        if self.config.latency_s:
            time.sleep(self.config.latency_s)
        out = []
        for r in requests:
            if dummy_fails(r.id, self.config.fail_every):
                out.append(Response(error=f"dummy failure (fail_every={self.config.fail_every})"))
                continue
            answer = dummy_answer(r.messages)
            n_prompt = len(_messages.prompt_text(r.messages).split())
            out.append(Response(text=answer, prompt_tokens=n_prompt, completion_tokens=1))
        return out
