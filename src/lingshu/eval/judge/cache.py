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

from pathlib import Path

from lingshu.core.hashing import sha256_obj
from lingshu.core.sqlite_store import SqliteTextStore

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


class JudgeCache(SqliteTextStore):
    """key -> the judge's raw answer, table ``judgements`` of the response-cache file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, TABLE, "answer")
