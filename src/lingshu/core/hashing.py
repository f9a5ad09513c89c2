"""Stable hashes for cache keys and manifests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def stable_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace variance, so equal objects hash equally."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_obj(obj: Any) -> str:
    return sha256_text(stable_json(obj))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
