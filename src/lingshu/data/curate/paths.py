"""Where a run reads and writes: local paths, ``file://`` URLs, and fsspec URLs for inputs.

Why: a cluster run's inputs often live on object storage (``s3://``, ``gs://``, ``hf://``,
any protocol fsspec knows), while every shard job needs files it can open. The read step
runs once, on the driver, streaming each input into shard files; an input given as a URL
is first copied by fsspec into the run's work folder (``.work/inputs/``, fetched again on
every run so an edit is seen; the copy's content keys the read step like a local input's)
and then read like a local file. Images named inside rows must be paths every node can
open (or embedded bytes: parquet, HF datasets and tars are written into the work folder).

The output folder (and the work folder in it) must be a local path or a ``file://`` URL
on a filesystem every node mounts: shard jobs on any node write there. Other URLs are
refused when the recipe loads, in one line.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from lingshu.core.errors import UserError
from lingshu.core.hashing import sha256_text


def is_url(path: str | Path) -> bool:
    return "://" in str(path)


def local_path(path: str | Path, base_dir: Path) -> Path | None:
    """A local path or ``file://`` URL as a path (relative ones from ``base_dir``); None
    for another URL."""
    text = str(path)
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif is_url(text):
        return None
    p = Path(text).expanduser()
    return p if p.is_absolute() else base_dir / p


def output_dir(value: object) -> object:
    """``output.dir``: a ``file://`` URL becomes its path; another URL is refused."""
    if isinstance(value, str) and is_url(value):
        if not value.startswith("file://"):
            raise ValueError(
                f"{value!r}: the output folder must be a local path or file:// URL on a "
                "filesystem every node mounts (shard jobs write there); fsspec URLs are "
                "read for inputs only")
        return value[len("file://"):]
    return value


def stage_input(name: str, path: str | Path, base_dir: Path, work: Path) -> Path:
    """The local path the readers open for input ``name``: the path itself, or a fresh
    fsspec copy of a URL under ``work/inputs/``."""
    local = local_path(path, base_dir)
    if local is not None:
        return local
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(str(path))
        found = fs.exists(root)
    except (ImportError, ValueError, OSError) as e:  # unknown protocol, missing driver
        raise UserError(f"input {name!r}: cannot open {path} ({e}); fix inputs[].path or "
                        "install the fsspec driver for its protocol") from None
    if not found:
        raise UserError(f"input {name!r}: {path} not found; fix inputs[].path")
    dest = work / "inputs" / sha256_text(str(path))[:12]
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    target = dest / (PurePosixPath(root.rstrip("/")).name or "input")
    if fs.isdir(root):
        fs.get(root.rstrip("/") + "/", str(target), recursive=True)
    else:
        fs.get(root, str(target))
    return target
