"""SQLite response cache: a rerun of the same evaluation costs nothing.

The key is a hash of everything that determines a model's answer: the backend's model
fingerprint, the benchmark name and version, the profile name and version, the exact
prompt (messages, with image files identified by path and the SHA-256 of their bytes), the
generation parameters and the sample id. Only successful responses are stored; errors are retried.

The table lives in an SQLite file through ``lingshu.core.sqlite_store`` (WAL mode: shards
on one machine share the file; each ``put_many`` is one transaction, so a kill leaves the
cache consistent).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lingshu.core.hashing import FileDigests, sha256_obj
from lingshu.core.sqlite_store import SqliteTextStore
from lingshu.inference import Message, Response

SCHEMA_VERSION = 1


def default_cache_path() -> Path:
    """``$LINGSHU_CACHE/responses.sqlite``, else ``~/.cache/lingshu/responses.sqlite``."""
    root = os.environ.get("LINGSHU_CACHE") or Path.home() / ".cache" / "lingshu"
    return Path(root) / "responses.sqlite"


def prompt_identity(
    messages: list[Message], digests: FileDigests | None = None
) -> list[Message]:
    """Messages with each image part extended by the SHA-256 of the file's bytes.

    A changed image file at the same path then misses the cache, even one edited in place
    keeping its size and modification time (issue 22; until then the key held the size,
    so this is a deliberate key change: cached answers on images are asked again once,
    text-only keys are unchanged). ``digests`` hashes each file once per run: the cost,
    measured in docs/performance.md, is small next to generating one answer.
    """
    digests = digests or FileDigests()
    out: list[Message] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for p in content:
                if p.get("type") == "image" and isinstance(p.get("image"), str):
                    p = {**p, "sha256": digests.file(p["image"])}  # "": unreadable
                parts.append(p)
            m = {**m, "content": parts}
        out.append(m)
    return out


def cache_key(
    *,
    fingerprint: dict[str, Any],
    benchmark: str,
    benchmark_version: str,
    profile: str,
    profile_version: str,
    messages: list[Message],
    generation: dict[str, Any],
    sample_id: str,
    digests: FileDigests | None = None,
) -> str:
    return sha256_obj(
        {
            "schema": SCHEMA_VERSION,
            "model": fingerprint,
            "benchmark": [benchmark, benchmark_version],
            "profile": [profile, profile_version],
            "prompt": sha256_obj(prompt_identity(messages, digests)),
            "generation": generation,
            "sample": sample_id,
        }
    )


class ResponseCache:
    """A key -> ``Response`` store: table ``responses`` of an SQLite file, as JSON."""

    def __init__(self, path: Path) -> None:
        self._store = SqliteTextStore(path, "responses", "response")
        self.path = self._store.path

    def get_many(self, keys: Iterable[str]) -> dict[str, Response]:
        return {k: Response(**json.loads(v)) for k, v in self._store.get_many(keys).items()}

    def put_many(self, items: Iterable[tuple[str, Response]]) -> None:
        """Store successful responses; errors are retried by the next run, never cached."""
        self._store.put_many((k, json.dumps(r.to_dict())) for k, r in items if r.error is None)

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()
