"""Where a run reads and writes: local paths, ``file://`` URLs, and fsspec URLs.

Why: a cluster run's inputs and outputs often live on object storage (``s3://``,
``gs://``, any protocol fsspec knows), while the intermediate files need a folder every
node mounts. The read step runs once, on the driver, streaming each input into shard
files; an input given as a URL is first copied by fsspec into the run's work folder
(``inputs/``, fetched again on every run so an edit is seen; the copy's content keys the
read step like a local input's) and then read like a local file. Images named inside
rows must be paths every node can open (or embedded bytes: parquet, HF datasets and tars
are written into the work folder).

``output.dir`` is a local path, a ``file://`` URL, or an fsspec URL. The work folder
(``output.work_dir``, default ``OUT/.work``) is always a local path or ``file://`` URL on a
filesystem every node mounts: shard jobs on any node read and write there, and its files
are the done-marks of resume. With ``output.dir`` a URL, ``output.work_dir`` must be given
(checked when the recipe loads, in one line): no local default is right on a cluster. The
shard jobs then write their data shard and image copies straight to the URL from the
workers, each as one whole object (a PUT: atomic on object stores), before their marker
in the work folder; the driver writes the small files (``exclusions.jsonl``, summary,
plots, data card, mixtures), reading picked rows back through fsspec. Credentials and
endpoints come from the fsspec driver's usual configuration (e.g. ``AWS_*`` variables
for ``s3fs``), which workers inherit. A local ``output.dir`` is written as before
(atomic renames), byte for byte.
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
    """``output.dir``: a ``file://`` URL becomes its path; another URL stays a string once
    fsspec knows its protocol (and its driver is installed)."""
    if isinstance(value, str) and is_url(value):
        if value.startswith("file://"):
            return Path(value[len("file://"):])
        protocol = value.split("://", 1)[0]
        if protocol == "memory":
            raise ValueError(f"{value!r}: memory:// is private to each process (workers "
                             "write the output); use a local folder or an object store URL")
        import fsspec

        try:
            fsspec.get_filesystem_class(protocol)
        except (ImportError, ValueError) as e:
            raise ValueError(f"{value!r}: cannot write there ({e}); fix output.dir or "
                             "install the fsspec driver for its protocol (s3fs, gcsfs ...)"
                             ) from None
        return value
    return Path(value) if isinstance(value, str) else value


def output_work_dir(value: object) -> object:
    """``output.work_dir``: a local path or ``file://`` URL (every node reads and writes it)."""
    if isinstance(value, str) and is_url(value):
        if not value.startswith("file://"):
            raise ValueError(f"{value!r}: the work folder must be a local path or file:// "
                             "URL on a filesystem every node mounts (shard jobs write there)")
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
