"""The judge cache: a judge's answer to the same question is never paid for twice.

A separate table (``judgements``) in the response-cache SQLite file, so ``--cache FILE``
and ``--no-cache`` govern both. The key is a hash of what determines the judge's answer:
the judge model and endpoint (``base_url``), the prompt version, the longest answer
allowed (``max_tokens``: a shorter limit can cut the verdict off), and the question, gold
answer and model answer as the judge sees them. Decoding is always greedy, so it is not a
key field.

The raw answer text is stored, not the parsed verdict: parsing is cheap and pure, so a
cached answer reads exactly as a fresh one would. Only answers that arrived are stored;
failed requests are retried by the next run.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from lingshu.core.hashing import sha256_obj

SCHEMA_VERSION = 1
TABLE = "judgements"


def judge_cache_key(
    *,
    model: str,
    base_url: str,
    prompt_version: str,
    max_tokens: int,
    question: str,
    gold: str,
    response: str,
) -> str:
    return sha256_obj(
        {
            "schema": SCHEMA_VERSION,
            "judge": [model, base_url.rstrip("/")],
            "prompt_version": prompt_version,
            "max_tokens": max_tokens,
            "question": question,
            "gold": gold,
            "response": response,
        }
    )


class JudgeCache:
    """key -> the judge's raw answer, in one SQLite table (WAL: shards may share the file)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            " key TEXT PRIMARY KEY, answer TEXT NOT NULL,"
            " created REAL NOT NULL DEFAULT (julianday('now')))"
        )
        self._db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(keys), 500):  # stay under SQLite's variable limit
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, answer FROM {TABLE} WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update(rows)
        return found

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        rows = list(items)
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {TABLE} (key, answer) VALUES (?, ?)", rows
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
