"""A stage's ``data:`` entry names one file, a folder of shards or a glob pattern; here it
becomes the list of files it stands for, the one place that rule lives.

Curation and sharding tools write a dataset as many files (``out/shard-00000.jsonl`` ...,
``shards/*.tar``); listing each by hand does not scale to thousands of shards. The expansion
is the same list of files, in the same order, that a user would have written by hand, so an
entry ``{path: shards/}`` trains on exactly the rows, in the order, with the exclusion keys
(``file``, ``line``) of the shards listed one by one (tests/train/test_sft_data_paths.py).

- A **file** stands for itself, whatever its suffix (JSONL is read for unknown suffixes, as
  before this module).
- A **folder** stands for its data files (:data:`KINDS` suffixes), non-recursive, sorted by
  name; other files (``README.md``, ``manifest.json``, a length cache) are skipped silently:
  curation output folders hold them next to the shards. Hidden files are skipped too.
- A **pattern** (``*``, ``?``, ``[``; ``**`` crosses folders) stands for the files it matches,
  sorted by path. A match with another suffix is an error rather than a skip: the user wrote
  the pattern, and reading ``notes.txt`` as JSONL (or silently dropping it) would surprise.

Names sort as strings: ``shard-10`` comes before ``shard-9``, so shards need zero-padded
numbers (curation writes ``shard-00000``). This module imports no training code.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError

#: Data file suffix -> reader kind (``lingshu.train.data.sources`` reads each kind).
KINDS = {".jsonl": "jsonl", ".parquet": "parquet", ".tar": "webdataset"}
_MAGIC = frozenset("*?[")
_SUFFIXES = ", ".join(KINDS)


class DataPathError(ValueError):
    """A ``data:`` path that names no usable file. ``missing``: nothing exists at the path (a
    dry run then falls back to the entry's ``samples``)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def is_pattern(path: Path | str) -> bool:
    return any(c in _MAGIC for c in str(path))


def expand_data_path(path: Path | str) -> list[Path]:
    """The data files ``path`` stands for, in reading order (module docstring); a
    :class:`DataPathError` with a one-line message (without the entry's location) otherwise."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                       and f.suffix.lower() in KINDS)
        if not files:
            raise DataPathError(f"folder {p} holds no data file ({_SUFFIXES}; sub-folders are not "
                                f"searched); name the files, or a pattern such as {p / '**' / '*.jsonl'}")
        return files
    if is_pattern(p):
        found = sorted(Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file())
        if not found:
            raise DataPathError(f"pattern {p} matches no file; fix the pattern (relative patterns "
                                "resolve against the recipe's folder)", missing=True)
        other = [f for f in found if f.suffix.lower() not in KINDS]
        if other:
            raise DataPathError(f"pattern {p} matches {other[0]} ({len(other)} such file(s)), which is not "
                                f"a data file ({_SUFFIXES}); narrow the pattern, e.g. to *.jsonl")
        return found
    raise missing_file(p)


def missing_file(p: Path) -> DataPathError:
    return DataPathError(f"file {p} does not exist; fix the path (relative paths resolve against the "
                         "recipe's folder)", missing=True)


def entry_files(entry: Any) -> list[Path]:
    """The files a ``data:`` entry stands for: expanded where its kind reads folders and
    patterns (an entry with ``files()``: SFT's ``DataSource``), else its path as written (a
    GRPO entry is one JSONL file)."""
    files = getattr(entry, "files", None)
    return files() if callable(files) else [Path(entry.path)]


def expand_entries(entries: list[Any]) -> list[Any]:
    """One copy of each entry per file it stands for, its other keys (format, ratio) kept:
    the entries a user would have listed by hand. Expanded once, where a stage's data loads;
    an entry naming nothing is a one-line ``UserError``."""
    try:
        return [e.model_copy(update={"path": f}) for e in entries for f in entry_files(e)]
    except DataPathError as e:
        raise UserError(str(e)) from None
