"""Writing a run's outputs to ``output.dir``: a local folder or an fsspec URL.

Why: the same writers (shard jobs in the workers, the driver's small files) serve both.
A location is a string (a local path, or ``protocol://...``), so it travels in a shard
job as it is and each worker opens it itself. Local files are written as before: to a
temporary name, then renamed (``lingshu.core.io``). A URL gets each file as one whole
object (fsspec ``pipe_file`` / ``put_file``): object stores make a PUT visible only once
complete, so a worker killed mid-write leaves no partial object, and resume relies on
the marker the job writes in the (local, shared) work folder after its outputs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO, Any

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_bytes, json_text
from lingshu.data.curate.paths import is_url


def join(base: str, *parts: str) -> str:
    if is_url(base):
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base, *parts))


def _fs(loc: str) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(loc)


def write_bytes(loc: str, data: bytes) -> None:
    if not is_url(loc):
        atomic_write_bytes(Path(loc), data)
        return
    fs, path = _fs(loc)
    fs.pipe_file(path, data)


def write_text(loc: str, text: str) -> None:
    write_bytes(loc, text.encode("utf-8"))


def write_json(loc: str, obj: Any) -> None:
    """As ``atomic_write_json`` writes it (same bytes)."""
    write_text(loc, json_text(obj))


def put_file(src: Path, loc: str) -> None:
    """Upload local file ``src`` to URL ``loc`` (one object)."""
    fs, path = _fs(loc)
    fs.put_file(str(src), path)


def exists(loc: str) -> bool:
    if not is_url(loc):
        return Path(loc).exists()
    fs, path = _fs(loc)
    return fs.exists(path)


def names(folder: str) -> set[str]:
    """The file names directly in ``folder`` (empty when it does not exist), listed afresh
    and not kept in the driver's listing cache: a cached listing would hide from later
    reads (``open_text``) the objects workers write after it."""
    if not is_url(folder):
        return set(os.listdir(folder)) if os.path.isdir(folder) else set()
    fs, path = _fs(folder)
    fs.invalidate_cache(path)
    try:
        return {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)}
    except FileNotFoundError:
        return set()
    finally:
        fs.invalidate_cache(path)


def remove(loc: str) -> None:
    if not is_url(loc):
        Path(loc).unlink(missing_ok=True)
        return
    fs, path = _fs(loc)
    fs.rm_file(path)


def open_text(loc: str) -> IO[str]:
    if not is_url(loc):
        return Path(loc).open(encoding="utf-8")
    import fsspec

    return fsspec.open(loc, "rt", encoding="utf-8").open()


def check_reachable(loc: str) -> None:
    """Fail in one line, before any work, when the output URL cannot be reached or its
    first component (an object store's bucket) does not exist: else every worker's first
    write would fail with the driver's traceback."""
    if not is_url(loc):
        return
    try:
        fs, path = _fs(loc)
        top = path.strip("/").split("/")[0]
        fs.info(top)  # not exists(): drivers answer False to a connection error too
    except FileNotFoundError:
        raise UserError(f"output.dir {loc}: {top!r} does not exist; create it (an object "
                        "store's bucket) or fix output.dir") from None
    except Exception as e:  # noqa: BLE001 (drivers raise their own types: botocore, aiohttp ...)
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"output.dir {loc}: cannot reach it ({first}); check the URL and "
                        "the fsspec driver's endpoint and credentials") from None


class Streams:
    """Text files written line by line, in place only once complete: local ones to a
    temporary name renamed on success (as ``atomic_write_text``, without holding the
    text); URL ones to a temporary file in ``spool`` (a local folder) uploaded on success
    as one object, so a failed run leaves the earlier object, never half of one."""

    def __init__(self, folder: str, names: tuple[str, ...], spool: Path) -> None:
        self.dests = [join(folder, n) for n in names]
        self.url = is_url(folder)
        self.temps = [(spool / "upload" / n if self.url else
                       Path(d).with_name(f".{Path(d).name}.tmp")) for n, d in
                      zip(names, self.dests, strict=True)]

    def __enter__(self) -> list[IO[str]]:
        self.fhs = []
        for tmp in self.temps:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            self.fhs.append(open(tmp, "w", encoding="utf-8"))  # noqa: SIM115
        return self.fhs

    def __exit__(self, exc_type: object, *rest: object) -> None:
        for fh, tmp, dest in zip(self.fhs, self.temps, self.dests, strict=True):
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            if exc_type is not None:
                tmp.unlink(missing_ok=True)
            elif self.url:
                put_file(tmp, dest)
                tmp.unlink()
            else:
                tmp.replace(dest)
        if self.url:
            shutil.rmtree(self.temps[0].parent, ignore_errors=True)
