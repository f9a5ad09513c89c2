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


class FileDigests:
    """SHA-256 of files, each read once per instance: one instance lives for one run (a
    curation run, one benchmark's evaluation), so a file referenced by many records or
    samples is hashed once. The memo is keyed by (path, size, mtime_ns, inode) and never
    outlives the run, so an edit between two runs is always seen, even one that keeps the
    size and the modification time (issue 22: rerun identity by content)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, int, int, int], str] = {}

    def file(self, path: Path | str) -> str:
        """The file's SHA-256 hex digest; "" when it cannot be read (missing, a folder)."""
        try:
            st = Path(path).stat()
            key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
            if key not in self._memo:
                self._memo[key] = sha256_file(Path(path))
            return self._memo[key]
        except OSError:
            return ""


def path_fingerprint(path: Path, digests: FileDigests | None = None) -> str:
    """What a cached step that reads ``path`` must be keyed by (issue 22: editing an input
    must make the rerun see it). A file: the SHA-256 of its bytes. A folder (a benchmark's
    release, an image tree, a tokenizer): every file's relative path and SHA-256; hashing
    by content, not size and modification time, sees an edit that kept both (a byte
    changed in place, times restored by ``cp -p``, ``rsync -t`` or ``tar``). Cost,
    measured in docs/performance.md: the 22 MB of bundled benchmarks in 69 ms (size and
    mtime: 15 ms). A missing path: "".
    """
    path = Path(path)
    digests = digests or FileDigests()
    if path.is_file():
        return digests.file(path)
    if not path.is_dir():
        return ""
    entries = [[str(p.relative_to(path)), digests.file(p)]
               for p in sorted(path.rglob("*")) if p.is_file()]
    return sha256_obj(entries)
