"""Atomic writes and append-only JSONL, so that a kill at any moment loses nothing.

``atomic_write_*`` write to a temporary file in the same directory, fsync, then rename:
readers see either the old or the new file, never half of one. ``JsonlAppender`` writes
one complete line per record and fsyncs; ``read_jsonl`` ignores a torn last line (the
only thing a kill -9 can leave behind), which the next append then replaces.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def _create_temp(directory: Path, name: str) -> tuple[int, str]:
    """A new, exclusive temporary file next to the target, created with mode 0666 so the
    kernel applies the umask: the renamed file gets the same permissions as every other
    file a run writes (``tempfile.mkstemp`` would leave it 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = str(directory / f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: could not create a temporary file for {name}")


def temp_dir(parent: Path, name: str) -> Path:
    """A new hidden folder ``parent/.NAME.XXXXXXXXXXXX.tmp`` to fill and then rename into
    place, created with mode 0777 so the kernel applies the umask: the renamed folder gets
    the permissions of every other folder a run writes (``tempfile.mkdtemp`` would leave
    it 0700 whatever the umask). :func:`remove_stale_temps` removes one a kill left."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        path = parent / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            path.mkdir(mode=0o777)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}: could not create a temporary folder for {name}")


def current_umask() -> int:
    """The process umask, read without changing it where the system says (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, hence last)
    os.umask(mask)
    return mask


def honour_umask(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain write would: 0666 / 0777
    less the umask. Libraries that write weights (safetensors) create files 0600, so a
    model folder shared on a cluster would otherwise be readable by its owner only."""
    mask = current_umask()
    root = Path(root)
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        p.chmod((0o777 if p.is_dir() else 0o666) & ~mask)


def remove_stale_temps(root: Path, dir_patterns: Iterable[str] = ()) -> list[Path]:
    """Delete what writers killed mid-write left under ``root``: hidden ``.*.tmp`` files
    and folders (:func:`_create_temp`'s and :func:`temp_dir`'s names, other ``.NAME.tmp``
    copies) and hidden folders matching ``dir_patterns`` (older names such as ``.step-*``). Call it when a run starts,
    before any writer of this run works under ``root``. Returns what was removed."""
    import shutil

    root = Path(root)
    if not root.is_dir():
        return []
    gone = list(root.rglob(".*.tmp"))
    for p in gone:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    for pattern in dir_patterns:
        for d in [d for d in root.rglob(pattern) if d.is_dir() and d.name.startswith(".")]:
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def json_text(obj: Any) -> str:
    """The project's JSON file text: indented, keys sorted, non-ASCII kept."""
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json_text(obj))


def read_jsonl(path: Path) -> Iterator[dict]:
    """Yield records; a torn (unterminated, unparsable) last line from a kill is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # torn tail of a killed writer
            line = raw.strip()
            if line:
                yield json.loads(line)


class JsonlAppender:
    """Append complete JSON lines, fsynced; truncates a torn tail left by a kill first."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _truncate_torn_tail(self.path)
        self._fh = self.path.open("ab")

    def write_many(self, records: Iterable[dict]) -> None:
        payload = b"".join(
            json.dumps(r, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
            for r in records
        )
        if payload:
            self._fh.write(payload)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def write(self, record: dict) -> None:
        self.write_many([record])

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _truncate_torn_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1  # 0 when no complete line exists
        fh.truncate(cut)
