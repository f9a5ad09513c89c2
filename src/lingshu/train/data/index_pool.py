"""The length pass (``lazy.build_index``) in several processes: the index of a stage's data at
1M rows in a fraction of the time one process takes (issue 19: about 150 us of CPU per row in
one process, so a cold start at 1M rows missed its 2-minute target by minutes).

The files are cut into pieces (``RowFile.split``: JSONL byte ranges that start at a line,
runs of parquet row groups, a tar shard whole), many per process so that a slow process (a
loaded machine) holds up the rest by one small piece at most; each piece is indexed exactly
as the serial pass indexes it, with its line and row numbers counted from the piece's start,
and :func:`join` puts the pieces of a file back in order, shifting those numbers by what the
earlier pieces held (their lines, blank ones included, and their rows). The result is the
serial index, array for array (tests/train/test_sft_index_pool.py).

The training process indexes pieces itself from the first second; the other processes are
workers started with ``spawn`` (the training process has torch, tokenizers' thread pool and
perhaps a GPU context, which are not safe to fork). Each receives the length counter (the
processor) pickled, which imports torch and torchvision with it: about 7 s of CPU and 1 GB
of RSS, mostly torch's shared libraries (docs/performance.md). A worker takes pieces once it
has started, one at a time, runs its tokenizer single-threaded
(``TOKENIZERS_PARALLELISM=false``: the processes are the parallelism) and holds one piece's
arrays at a time. Like every spawned process, a worker imports the main module again: a
script that starts training needs the ``if __name__ == "__main__":`` guard (without it the
worker dies, and the pass falls back to this process with a warning).
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.train.data.lazy import FileIndex, build_index
from lingshu.train.data.sources import RowFile

log = logging.getLogger(__name__)

READ_ERRORS = (OSError, ValueError, tarfile.TarError)
"""What reading a data file that is not what its suffix says raises (pyarrow's ArrowInvalid
is a ValueError): the file's error, reported by name, not a crash."""
MIN_PARALLEL_BYTES = 64 << 20
"""Data below this (about 150K rows of the benchmark's JSONL, 15 s of one process) is indexed
in this process: a worker spends about 7 s of CPU starting (unpickling the processor imports
torch and torchvision), 15 s on a loaded machine (docs/performance.md)."""
PIECES_PER_PROCESS = 16
"""Small pieces: a process that finishes early (a slower neighbour, a loaded core) waits
for at most one piece of another's."""
MAX_PIECE_BYTES = 16 << 20

_COUNTER: Any = None


def build_indexes(files: list[tuple[Path, str]], counter: Any, processes: int, *,
                  piece_bytes: int | None = None, min_bytes: int = MIN_PARALLEL_BYTES,
                  local: bool = True) -> list[FileIndex | Exception]:
    """The index of each ``(path, style)`` file (or the error reading it raised), by
    ``processes`` processes together, this one included, when the data is large enough to be
    worth starting the others (``local=False``: this one only waits; the tests' way to
    have the workers index every piece)."""
    if not files:
        return []
    sizes = [_size(path) for path, _ in files]
    if processes <= 1 or sum(sizes) < min_bytes:
        return [_serial(path, style, counter) for path, style in files]
    if piece_bytes is None:
        piece_bytes = min(MAX_PIECE_BYTES, max(1 << 20, sum(sizes) // (processes * PIECES_PER_PROCESS)))
    pieces: list[tuple[int, int, int]] = []  # (file, start, stop)
    failed: dict[int, Exception] = {}
    for k, (path, _) in enumerate(files):
        try:
            pieces += [(k, a, b) for a, b in RowFile(path).split(piece_bytes)]
        except READ_ERRORS as e:
            failed[k] = e
    processes = min(processes, len(pieces))
    if processes <= 1:
        return [_serial(path, style, counter) for path, style in files]
    from concurrent.futures.process import BrokenProcessPool

    try:
        done = _run_pool(files, pieces, counter, processes, failed, local)
    except BrokenProcessPool as e:  # a worker died: out of memory, or a main module without a __main__ guard
        log.warning("length index: a worker process died (%s); indexing in this process instead. A script "
                    "that starts training needs `if __name__ == \"__main__\":` (workers are spawned)", e)
        return [_serial(path, style, counter) for path, style in files]
    out: list[Any] = []
    for k in range(len(files)):
        parts = [done[p] for p in pieces if p[0] == k]
        out.append(failed[k] if k in failed else join([(i, span) for i, span, _ in parts]))
    return out


def _run_pool(files: list[tuple[Path, str]], pieces: list[tuple[int, int, int]], counter: Any, processes: int,
              failed: dict[int, Exception], local: bool = True) -> dict:
    """Every piece's ``(index, span, peak RSS)``. This process takes pieces from the back of
    the queue from the start; each of the ``processes - 1`` workers, once started (about 7 s:
    it imports torch with the processor), takes one piece at a time from the front, so no
    piece waits on a worker that is still starting. A piece whose file cannot be read marks
    its file in ``failed``."""
    import multiprocessing
    import threading
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    todo, done, errors = deque(pieces), {}, []
    changed = threading.Condition()

    def run(piece: tuple[int, int, int], task: Any) -> None:
        try:
            done[piece] = task()
        except READ_ERRORS as e:
            failed.setdefault(piece[0], e)
            done[piece] = (None, 0, 0)

    with ProcessPoolExecutor(processes - 1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                             initargs=(pickle.dumps(counter),)) as pool:
        def feed(last: Any) -> None:  # in the pool's thread, whenever a worker is free
            try:
                if hasattr(last, "piece"):
                    run(last.piece, last.result)
                else:
                    last.result()  # a worker that could not start raises here
                try:
                    k, a, b = piece = todo.popleft()
                except IndexError:  # this process took the last one
                    pass
                else:
                    f = pool.submit(_piece, str(files[k][0]), files[k][1], a, b)
                    f.piece = piece  # type: ignore[attr-defined]
                    f.add_done_callback(feed)
            except BaseException as e:  # noqa: BLE001 - raised again in the training process below
                errors.append(e)
            with changed:
                changed.notify_all()

        for _ in range(processes - 1):
            pool.submit(_ready).add_done_callback(feed)
        while local:
            try:
                k, a, b = piece = todo.pop()
            except IndexError:
                break
            run(piece, lambda: _index(counter, str(files[k][0]), files[k][1], a, b))
        with changed:
            changed.wait_for(lambda: errors or len(done) == len(pieces))
        if errors:
            raise errors[0]
        _stop_starting(pool)
    peak = max(rss for _, _, rss in done.values())
    stats = {"rows": sum(len(i.lengths) for i, _, _ in done.values() if i is not None), "processes": processes,
             "pieces": len(pieces), "by_workers": sum(1 for _, _, rss in done.values() if rss),
             "seconds": round(time.perf_counter() - t0, 1), "worker_peak_rss_mb": round(peak / 1024)}
    log.info("length index: %(rows)d rows in %(pieces)d pieces (%(by_workers)d by workers) by %(processes)d "
             "processes, %(seconds)s s (worker peak RSS %(worker_peak_rss_mb)d MB)", stats,
             extra={"index_stats": stats})
    return done


def join(parts: list[tuple[FileIndex, int]]) -> FileIndex:
    """One file's index from its pieces' ``(index, lines spanned)``, in file order: each
    piece's line numbers move past the earlier pieces' lines (blank lines included), its row
    numbers (``bad``'s keys) past their rows; locators are already the file's own."""
    lines, bad = [], {}
    first_line = first_row = 0
    for index, span in parts:
        lines.append(index.lines + np.int32(first_line))
        bad.update({r + first_row: v for r, v in index.bad.items()})
        first_line += span
        first_row += len(index.lengths)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p, _ in parts])

    return FileIndex(cat("locators"), np.concatenate(lines).astype(np.int32, copy=False),
                     cat("lengths"), cat("labels"), bad)


def _serial(path: Path, style: str, counter: Any) -> FileIndex | Exception:
    try:
        return build_index(RowFile(path), style, counter)
    except READ_ERRORS as e:
        return e


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _start(counter: bytes) -> None:
    """A worker's set-up: the length counter, and one tokenizer thread (the processes are
    the parallelism; tokenizers' own pool would put several threads on each core)."""
    global _COUNTER
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _COUNTER = pickle.loads(counter)


def _stop_starting(pool: Any) -> None:
    """End the workers once every piece is done: on small data this process may finish
    before they have started, and waiting for their imports would cost seconds for nothing.
    (``ProcessPoolExecutor`` has no public way before Python 3.14's ``terminate_workers``.)"""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()


def _ready() -> None:
    """A worker's first task: done once it has started (then it gets pieces)."""


def _piece(path: str, style: str, start: int, stop: int) -> tuple[FileIndex, int, int]:
    """One piece indexed in a worker (:func:`_index` with the worker's counter)."""
    return _index(_COUNTER, path, style, start, stop)


def _index(counter: Any, path: str, style: str, start: int, stop: int) -> tuple[FileIndex, int, int]:
    """One piece: its index, the lines it spans, the process's peak RSS (KiB; 0 in the
    training process, whose RSS is its own matter)."""
    rows = RowFile(Path(path))
    index = build_index(rows, style, counter, start, stop)
    span = rows.span(start, stop) if rows.kind != "webdataset" else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if counter is _COUNTER else 0
    return index, span, rss
