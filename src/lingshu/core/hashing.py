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


def path_fingerprint(path: Path) -> str:
    """What a cached step that reads ``path`` must be keyed by (issue 22: editing an input
    must make the rerun see it). A file: the SHA-256 of its bytes. A folder (a benchmark's
    release, an image tree, a tokenizer): every file's relative path, size and modification
    time, since hashing gigabytes of images on every rerun would cost more than the step;
    an edit through any ordinary tool changes the modification time. A missing path: "".
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        return ""
    entries = []
    for p in sorted(path.rglob("*")):
        if p.is_file():
            st = p.stat()
            entries.append([str(p.relative_to(path)), st.st_size, st.st_mtime_ns])
    return sha256_obj(entries)
