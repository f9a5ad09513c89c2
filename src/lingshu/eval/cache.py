"""SQLite response cache: a rerun of the same evaluation costs nothing.

The key is a hash of everything that determines a model's answer: the backend's model
fingerprint, the benchmark name and version, the profile name and version, the exact
prompt (messages, with image files identified by path and size), the generation
parameters and the sample id. Only successful responses are stored; errors are retried.

SQLite in WAL mode lets several processes (shards on one machine) share one cache file;
each ``put_many`` is one transaction, so a kill leaves the cache consistent.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lingshu.core.hashing import sha256_obj
from lingshu.eval.types import Message, Response

SCHEMA_VERSION = 1


def default_cache_path() -> Path:
    """``$LINGSHU_CACHE/responses.sqlite``, else ``~/.cache/lingshu/responses.sqlite``."""
    root = os.environ.get("LINGSHU_CACHE") or Path.home() / ".cache" / "lingshu"
    return Path(root) / "responses.sqlite"


def prompt_identity(messages: list[Message]) -> list[Message]:
    """Messages with each image part extended by the file's size.

    A changed image file at the same path then misses the cache. Size, not a full hash:
    hashing every image of a 100K-image benchmark on each run would cost more than the
    cache saves; benchmark files themselves are sha256-hashed in the run manifest.
    """
    out: list[Message] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for p in content:
                if p.get("type") == "image" and isinstance(p.get("image"), str):
                    try:
                        size = Path(p["image"]).stat().st_size
                    except OSError:
                        size = -1
                    p = {**p, "size": size}
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
) -> str:
    return sha256_obj(
        {
            "schema": SCHEMA_VERSION,
            "model": fingerprint,
            "benchmark": [benchmark, benchmark_version],
            "profile": [profile, profile_version],
            "prompt": sha256_obj(prompt_identity(messages)),
            "generation": generation,
            "sample": sample_id,
        }
    )


class ResponseCache:
    """A key -> ``Response`` store in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses ("
            " key TEXT PRIMARY KEY, response TEXT NOT NULL,"
            " created REAL NOT NULL DEFAULT (julianday('now')))"
        )
        self._db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, Response]:
        keys = list(keys)
        found: dict[str, Response] = {}
        with self._lock:
            for i in range(0, len(keys), 500):  # stay under SQLite's variable limit
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
                for k, v in rows:
                    found[k] = Response(**json.loads(v))
        return found

    def put_many(self, items: Iterable[tuple[str, Response]]) -> None:
        rows = [(k, json.dumps(r.to_dict())) for k, r in items if r.error is None]
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO responses (key, response) VALUES (?, ?)", rows
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
