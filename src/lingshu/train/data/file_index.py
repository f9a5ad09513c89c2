"""One data file's length index (:class:`FileIndex`) and the pass that builds it
(:func:`build_index`), over the whole file or one range of it: what ``lazy`` caches and
opens, and what ``index_pool`` runs in several processes (a module of its own so that
neither imports the other's caller)."""

from __future__ import annotations

import gc
import io
import json
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.train.data.sft import BadSample, normalise
from lingshu.train.data.sources import RowFile

CHUNK = 2048
"""Rows templated and tokenized per batch call in the length pass."""


@dataclass
class FileIndex:
    """One data file's rows: locator, reported line, length and assistant tokens (``-1``
    for a row that cannot be used; ``bad`` maps its row number to reason, detail and id)."""

    locators: np.ndarray
    lines: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    bad: dict[int, tuple[str, str, Any]]
    images: np.ndarray | None = None
    """Rows whose image tokens are not counted yet (a worker of ``index_pool`` without the
    image processor): ``[row, width, height, in an assistant span]`` per image."""

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        bad = json.dumps([[r, *v] for r, v in sorted(self.bad.items())], default=str).encode()
        np.savez(buf, locators=self.locators, lines=self.lines, lengths=self.lengths, labels=self.labels,
                 bad=np.frombuffer(bad, dtype=np.uint8))
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: Path) -> FileIndex:
        with np.load(path) as z:
            bad = {int(r): (reason, detail, rid) for r, reason, detail, rid in json.loads(z["bad"].tobytes())}
            return cls(z["locators"], z["lines"], z["lengths"], z["labels"], bad)


def build_index(rows: RowFile, style: str, counter: Any, start: int = 0, stop: int | None = None) -> FileIndex:
    """The length pass over one file, or over one range of it (``RowFile.split``; line and
    row numbers then count from the range's start, ``index_pool.join`` shifts them)
    (``counter``: a ``lengths.LengthCounter``)."""
    loc, lines, lengths, labels, images = array("q"), array("i"), array("i"), array("i"), array("i")
    bad: dict[int, tuple[str, str, Any]] = {}
    base = rows.path.parent

    def flush(chunk: list) -> None:
        measured = counter.measure([c for _, c, _ in chunk])
        for (r, _, rid), m in zip(chunk, measured):
            if isinstance(m, BadSample):
                bad[r] = (m.reason, m.detail, rid)
                lengths[r], labels[r] = -1, -1
            else:
                lengths[r], labels[r] = m[0], m[1]
                for w, h, inside in m[2] if len(m) > 2 else ():  # image tokens counted later
                    images.extend((r, w, h, inside))
        chunk.clear()

    chunk: list = []
    with _frozen_heap():
        for r, (locator, line, row) in enumerate(rows.scan(start, stop)):
            loc.append(locator)
            lines.append(line)
            lengths.append(-1)
            labels.append(-1)
            rid = row.get("id") if isinstance(row, dict) else None
            try:
                if isinstance(row, BadSample):
                    raise row
                chunk.append((r, normalise(row, base, style, rows.resolver(locator)), rid))
            except BadSample as e:
                bad[r] = (e.reason, e.detail, rid)
            if len(chunk) >= CHUNK:
                flush(chunk)
        if chunk:
            flush(chunk)
    rows.forget_members()
    arr = [np.frombuffer(a, dtype=a.typecode).copy() if len(a) else np.zeros(0, a.typecode)
           for a in (loc, lines, lengths, labels, images)]
    return FileIndex(*arr[:4], bad=bad, images=arr[4].reshape(-1, 4) if len(images) else None)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive before the pass (a training process holds torch, transformers and
    the model: hundreds of thousands) moved out of the garbage collector's sight while it
    runs. The pass allocates millions of small objects, and each full collection walked all
    of them again: 18% of the pass's time in a profile (docs/performance.md); results are
    unchanged. Does nothing when someone else froze the heap already."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
