"""Row files an SFT stage reads lazily: JSONL (the curation outputs, CONTRACTS §2), parquet and
WebDataset tar shards. Each is scanned once, row by row, for the length index; afterwards a
row is found again from one integer (its *locator*) by a DataLoader worker.

- JSONL: the locator is the line's byte offset; a worker seeks and reads that line only.
- Parquet: the locator is the row's number in the file; a worker reads the row's row group
  (and keeps the last one, so neighbouring rows are cheap). Columns are the row's keys, as
  in JSONL; Arrow's nulls (a text part has ``image: null``) are dropped, so a row reads as
  its JSON would.
- WebDataset: a sample is the members sharing a key (the name up to the first dot, the
  WebDataset convention); its ``.json`` member is the row, and the locator is that
  member's data offset. An image reference in the row that names a member of the same
  sample (its extension, ``"png"`` or ``"0.jpg"``, or its full name) is read from the tar;
  other references resolve on disk against the shard's folder, as JSONL's do.

Bad rows are :class:`~lingshu.train.data.sft.BadSample` values, as ``read_rows`` gives them.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lingshu.train.config.data_paths import KINDS
from lingshu.train.data.sft import parse_row

__all__ = ["KINDS", "RowFile", "TarMember", "count_rows", "kind_of"]


def kind_of(path: Path) -> str:
    """``parquet`` or ``webdataset`` by suffix; any other file is JSONL, as it always was."""
    return KINDS.get(Path(path).suffix.lower(), "jsonl")


def count_rows(path: Path) -> int:
    """Rows of a data file without parsing them (the dry run's step count): non-blank
    lines, parquet rows from the footer, ``.json`` members of a tar."""
    kind = kind_of(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if kind == "webdataset":
        with tarfile.open(path) as tf:
            return sum(1 for m in tf if m.isfile() and _is_row(m.name))
    with Path(path).open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _is_row(name: str) -> bool:
    return PurePosixPath(name).name.partition(".")[2].lower() == "json"


@dataclass(frozen=True)
class TarMember:
    """An image stored inside a WebDataset shard: where its bytes are. Stands where a path
    would in a :class:`~lingshu.train.data.sft.Conversation`."""

    tar: Path
    name: str
    offset: int
    size: int

    def is_file(self) -> bool:
        return True

    def open_bytes(self) -> io.BytesIO:
        with self.tar.open("rb") as fh:
            fh.seek(self.offset)
            return io.BytesIO(fh.read(self.size))

    def load_image(self) -> Any:
        """An RGB image, decoded as ``models.images.load_image`` decodes a file."""
        from PIL import Image

        from lingshu.models.images import to_rgb

        with Image.open(self.open_bytes()) as im:
            im.seek(0)
            im.load()
            return to_rgb(im.copy())

    def __str__(self) -> str:
        return f"{self.tar}:{self.name}"


def _sample_key(name: str) -> str:
    p = PurePosixPath(name)
    return str(p.parent / p.name.partition(".")[0])


class RowFile:
    """One data file: ``scan()`` yields ``(locator, line, row)`` once; ``read(locator)`` finds
    one row again. ``line`` is what exclusions report: the JSONL line, the parquet row number
    (from 1), the tar member's name key."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.kind = kind_of(self.path)
        self._group: tuple[int, list] | None = None
        self._starts: Any = None
        self._members: dict[int, dict[str, TarMember]] | None = None

    def resolver(self, locator: int) -> Callable[[str, Path], Any] | None:
        """How the row at ``locator`` resolves its image references (``None``: as paths)."""
        if self.kind != "webdataset":
            return None
        if self._members is None:
            self._members = self._list_members()
        own = self._members.get(locator, {})

        def resolve(ref: str, base: Path) -> Any:
            if ref in own:
                return own[ref]
            p = Path(ref)
            return p if p.is_absolute() else base / p

        return resolve

    def _list_members(self) -> dict[int, dict[str, TarMember]]:
        """Per row (its ``.json`` member's data offset): the sample's other members, by
        extension and by full name. Read once per process and shard."""
        by_key: dict[str, dict[str, TarMember]] = {}
        rows: dict[str, int] = {}
        with tarfile.open(self.path) as tf:
            for m in tf:
                if not m.isfile():
                    continue
                key = _sample_key(m.name)
                if _is_row(m.name):
                    rows[key] = m.offset_data
                    continue
                member = TarMember(self.path, m.name, m.offset_data, m.size)
                refs = by_key.setdefault(key, {})
                refs[PurePosixPath(m.name).name.partition(".")[2]] = refs[PurePosixPath(m.name).name] = member
        return {off: by_key.get(key, {}) for key, off in rows.items()}

    def forget_members(self) -> None:
        """Drop the member listing (after the length pass; a worker lists again)."""
        self._members = None

    # ---------------------------------------------------------------- scan

    def scan(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int, Any]]:
        """The rows of one range of the file (``split``; default: all of it), with ``line``
        counted from the range's first line or row. A tar shard is always scanned whole."""
        if self.kind == "jsonl":
            return self._scan_jsonl(start, stop)
        if self.kind == "parquet":
            return self._scan_parquet(start, stop)
        return self._scan_tar()

    def split(self, piece_bytes: int) -> list[tuple[int, int]]:
        """``scan`` ranges of about ``piece_bytes`` each that cover the file in order (the
        length pass in several processes, ``index_pool``): JSONL byte ranges cut at line
        starts, parquet runs of whole row groups, a tar shard whole (its members are only
        found by reading their headers one after the other)."""
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(self.path).metadata
            cuts, size = [0], 0
            for g in range(meta.num_row_groups):
                if g and size >= piece_bytes:
                    cuts.append(g)
                    size = 0
                size += meta.row_group(g).total_byte_size
            return list(zip(cuts, [*cuts[1:], meta.num_row_groups]))
        if self.kind != "jsonl":
            return [(0, 0)]
        total = self.path.stat().st_size
        cuts = [0]
        with self.path.open("rb") as fh:
            for pos in range(max(1, piece_bytes), total, max(1, piece_bytes)):
                if pos <= cuts[-1]:
                    continue
                fh.seek(pos - 1)
                fh.readline()  # to the end of the line holding byte pos - 1: the next starts there
                if cuts[-1] < fh.tell() < total:
                    cuts.append(fh.tell())
        return list(zip(cuts, [*cuts[1:], total]))

    def span(self, start: int, stop: int) -> int:
        """Lines (JSONL, blank ones too) or rows (parquet) in a ``split`` range: where the
        next range's line numbers start."""
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(self.path).metadata
            return sum(meta.row_group(g).num_rows for g in range(start, stop))
        n = 0
        with self.path.open("rb") as fh:
            fh.seek(start)
            left = stop - start
            while left > 0:
                block = fh.read(min(left, 1 << 20))
                if not block:
                    break
                n += block.count(b"\n")
                left -= len(block)
        return n

    def _scan_jsonl(self, start: int, stop: int | None) -> Iterator[tuple[int, int, Any]]:
        with self.path.open("rb") as fh:
            fh.seek(start)
            offset = start
            for line, raw in enumerate(fh, 1):
                if stop is not None and offset >= stop:
                    break
                if raw.strip():
                    yield offset, line, parse_row(raw)
                offset += len(raw)

    def _scan_parquet(self, first: int, stop: int | None) -> Iterator[tuple[int, int, Any]]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.path)
        n = sum(pf.metadata.row_group(g).num_rows for g in range(first))
        line = 0
        for g in range(first, pf.num_row_groups if stop is None else stop):
            for row in pf.read_row_group(g).to_pylist():
                line += 1
                yield n, line, _drop_nulls(row)
                n += 1

    def _scan_tar(self) -> Iterator[tuple[int, int, Any]]:
        n = 0
        with tarfile.open(self.path) as tf, self.path.open("rb") as fh:
            for m in tf:
                if m.isfile() and _is_row(m.name):
                    n += 1
                    fh.seek(m.offset_data)
                    yield m.offset_data, n, parse_row(fh.read(m.size))

    # ---------------------------------------------------------------- read

    def read(self, locator: int) -> Any:
        if self.kind == "jsonl":
            with self.path.open("rb") as fh:
                fh.seek(locator)
                return parse_row(fh.readline())
        if self.kind == "parquet":
            return self._read_parquet(locator)
        with self.path.open("rb") as fh:  # the header block just before the data holds the size
            fh.seek(locator - tarfile.BLOCKSIZE)
            info = tarfile.TarInfo.frombuf(fh.read(tarfile.BLOCKSIZE), "utf-8", "surrogateescape")
            return parse_row(fh.read(info.size))

    def _read_parquet(self, n: int) -> Any:
        """Row ``n``: its row group is read (footer parsed only then) and kept for the next row."""
        import bisect

        import pyarrow.parquet as pq

        if self._starts is None:
            meta = pq.ParquetFile(self.path).metadata
            starts, total = [], 0
            for g in range(meta.num_row_groups):
                starts.append(total)
                total += meta.row_group(g).num_rows
            self._starts = starts
        g = bisect.bisect_right(self._starts, n) - 1
        if self._group is None or self._group[0] != g:
            self._group = (g, pq.ParquetFile(self.path).read_row_group(g).to_pylist())
        return _drop_nulls(self._group[1][n - self._starts[g]])


def _drop_nulls(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_nulls(v) for v in obj]
    return obj
