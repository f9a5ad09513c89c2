"""Model calls for curation ops: the inference layer's backends, a versioned prompt file,
and the evaluation response cache's SQLite store, so a rerun costs nothing.

Backends come from ``lingshu.inference.get_backend``. The cache key is the sha256 of the
backend fingerprint, the prompt template's name and version, the messages and the
generation parameters.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lingshu.core.hashing import sha256_obj
from lingshu.core.sqlite_store import SqliteTextStore


class LlmSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    backend: str = Field("dummy", description="inference backend name (hf, openai, vllm, ...)")
    options: dict[str, Any] = Field(default_factory=dict, description="backend options")
    cache: str | None = Field(None, description="SQLite cache file (default: "
                              "OUT/.work/llm_cache.sqlite)")
    max_new_tokens: int = Field(512, ge=1)
    batch_size: int = Field(8, ge=1)


@functools.lru_cache(maxsize=64)
def prompt_template(name: str) -> tuple[str, str]:
    """(version, text) of ``prompts/<name>.txt``; its first line is ``version: N``."""
    raw = resources.files("lingshu.data.curate").joinpath("prompts", f"{name}.txt").read_text()
    first, _, body = raw.partition("\n")
    m = re.fullmatch(r"version:\s*(\S+)", first.strip())
    if not m:
        raise ValueError(f"prompt {name}: first line must be 'version: N'")
    return m.group(1), body


def render(name: str, **values: Any) -> tuple[str, str]:
    version, text = prompt_template(name)
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return version, text


class LlmClient:
    def __init__(self, spec: LlmSpec, default_cache: Path) -> None:
        from lingshu.inference import get_backend

        self.spec = spec
        self.backend = get_backend(spec.backend, **spec.options)
        self.fp = self.backend.fingerprint()
        self.store = SqliteTextStore(Path(spec.cache) if spec.cache else default_cache,
                                     "curation_llm", "response")
        self.calls = 0

    def ask(self, prompts: list[tuple[str, str, str, list[str]]]) -> list[str | None]:
        """``(template, version, text, images)`` each -> the reply (None when it failed)."""
        from lingshu.inference import (
            GenerationParams,
            Request,
            TextResponses,
            cached_calls,
            user_message,
        )

        params = GenerationParams(max_new_tokens=self.spec.max_new_tokens)
        requests, keys = [], []
        for tpl, version, text, images in prompts:
            m = [user_message(text, images)]
            key = sha256_obj({"fp": self.fp, "tpl": tpl, "v": version, "m": m,
                              "p": params.to_dict()})
            requests.append(Request(id=key[:16], messages=m))
            keys.append(key)
        out: list[str | None] = [None] * len(prompts)
        for batch in cached_calls(self.backend.generate, requests, keys, params,
                                  store=TextResponses(self.store),
                                  chunk_size=self.spec.batch_size):
            self.calls += batch.asked
            for (i,), r in batch.groups:
                out[i] = r.text if r.error is None else None
        return out


def parse_json_reply(text: str | None) -> Any:
    """The first JSON object in a reply (models wrap JSON in prose or code fences)."""
    if text is None:
        return None
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        return None
    try:
        return json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
