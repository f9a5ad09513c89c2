"""The length pass (``file_index.build_index``) in several processes: the index of a stage's data at
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
perhaps a GPU context, which are not safe to fork). A worker does not get the processor:
unpickling it imports torch and torchvision, about 7 s of CPU and 1.1 GB of RSS (700 MB of it
private) per worker. It gets a :class:`TextCounter` (the chat template, the tokenizer's JSON,
the special tokens): about 1 s to start and 300 MB, most of it the tokenizer itself. Image
tokens need the image processor, so a worker records each image's size and whether it lies
in an assistant span, and the training process adds the tokens (:func:`count_images`). A
worker takes pieces once it has started, one at a time, runs its tokenizer single-threaded
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
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.train.data.file_index import FileIndex, build_index
from lingshu.train.data.lengths import LengthCounter, encode_ids
from lingshu.train.data.sources import RowFile

log = logging.getLogger(__name__)

READ_ERRORS = (OSError, ValueError, tarfile.TarError)
"""What reading a data file that is not what its suffix says raises (pyarrow's ArrowInvalid
is a ValueError): the file's error, reported by name, not a crash."""
MIN_PARALLEL_BYTES = 16 << 20
"""Data below this (about 35K rows of the benchmark's JSONL, 4 s of one process) is indexed
in this process: a worker takes 1-2 s to start (docs/performance.md)."""
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
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # this is a worker importing a main module that starts training at import time: stop it
        raise RuntimeError("the SFT length pass spawns workers, which import the main module again: "
                           "start training under `if __name__ == \"__main__\":` in your script")
    done = _run_pool(files, pieces, counter, processes, failed, local)
    out: list[Any] = []
    for k in range(len(files)):
        parts = [done[p] for p in pieces if p[0] == k]
        out.append(failed[k] if k in failed else count_images(join([(i, span) for i, span, _ in parts]), counter))
    return out


def _run_pool(files: list[tuple[Path, str]], pieces: list[tuple[int, int, int]], counter: Any, processes: int,
              failed: dict[int, Exception], local: bool = True) -> dict:
    """Every piece's ``(index, span, peak RSS)``. This process takes pieces from the back of
    the queue from the start; each of the ``processes - 1`` workers, once started, takes one
    piece at a time from the front, so no
    piece waits on a worker that is still starting. A piece whose file cannot be read marks
    its file in ``failed``."""
    import multiprocessing
    import threading
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    t0 = time.perf_counter()
    todo, done, errors = deque(pieces), {}, []
    changed = threading.Condition()

    def run(piece: tuple[int, int, int], task: Any) -> None:
        try:
            done[piece] = task()
        except READ_ERRORS as e:
            failed.setdefault(piece[0], e)
            done[piece] = (None, 0, 0)

    # the counter goes through a file: through the start-up pipe, 8 MB would hold this process
    # until the worker has imported its modules (or for ever, if the worker hangs starting)
    with tempfile.TemporaryDirectory(prefix="lingshu-index-") as tmp, \
            ProcessPoolExecutor(processes - 1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                initargs=(_dump(worker_counter(counter), Path(tmp)),)) as pool:
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
        if errors and not isinstance(errors[0], BrokenProcessPool):
            raise errors[0]
        _stop_starting(pool)
    if errors:  # a worker died (out of memory, or a main module without a __main__ guard)
        log.warning("length index: a worker process died (%s); this process indexes what it left. A script "
                    "that starts training needs `if __name__ == \"__main__\":` (workers are spawned)", errors[0])
        for k, a, b in [p for p in pieces if p not in done]:
            run((k, a, b), lambda: _index(counter, str(files[k][0]), files[k][1], a, b))
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
    lines, bad, images = [], {}, []
    first_line = first_row = 0
    for index, span in parts:
        lines.append(index.lines + np.int32(first_line))
        bad.update({r + first_row: v for r, v in index.bad.items()})
        if index.images is not None:
            images.append(index.images + np.array([first_row, 0, 0, 0], dtype=index.images.dtype))
        first_line += span
        first_row += len(index.lengths)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p, _ in parts])

    return FileIndex(cat("locators"), np.concatenate(lines).astype(np.int32, copy=False),
                     cat("lengths"), cat("labels"), bad, np.concatenate(images) if images else None)


def count_images(index: FileIndex, counter: Any) -> FileIndex:
    """``index`` with the image tokens its workers left out added (``counter``: the training
    process's ``LengthCounter``, with the image processor): each distinct size asked once."""
    if index.images is None:
        return index
    rows, sizes, inside = index.images[:, 0], index.images[:, 1:3], index.images[:, 3]
    distinct, which = np.unique(sizes, axis=0, return_inverse=True)
    tokens = np.array([counter.tokens(int(w), int(h)) for w, h in distinct], dtype=np.int64)[which.reshape(-1)]
    lengths, labels = index.lengths.astype(np.int64), index.labels.astype(np.int64)
    np.add.at(lengths, rows, tokens)
    np.add.at(labels, rows, (tokens - 1) * inside)
    return FileIndex(index.locators, index.lines, lengths.astype(index.lengths.dtype),
                     labels.astype(index.labels.dtype), index.bad)


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


def _dump(counter: Any, folder: Path) -> str:
    path = folder / "counter.pkl"
    path.write_bytes(pickle.dumps(counter))
    return str(path)


def _start(counter: str) -> None:
    """A worker's set-up: the length counter (pickled in that file), and one tokenizer thread
    (the processes are the parallelism; tokenizers' own pool would put several threads on
    each core)."""
    global _COUNTER
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _COUNTER = pickle.loads(Path(counter).read_bytes())


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
    return index, span, _peak_rss_kb() if counter is _COUNTER else 0


def _peak_rss_kb() -> int:
    """This process's peak RSS in KiB since it started its program: ``VmHWM`` (Linux). Not
    ``ru_maxrss``, which Linux carries over from the forked copy of the parent's memory that
    ``spawn`` replaces at once (a worker would report the training process's 1.1 GB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class TextCounter(LengthCounter):
    """The length counter a worker gets: the processor's chat template rendered by the
    function its ``apply_chat_template`` calls (transformers' ``render_jinja_template``, with
    the same special tokens), the text tokenized by the tokenizers library from the
    tokenizer's own JSON, image sizes from the headers; the image tokens themselves are
    counted afterwards by the training process (:func:`count_images`). Without the processor
    a worker imports neither torch nor torchvision (docs/performance.md: start-up and RSS)."""

    def __init__(self, counter: LengthCounter) -> None:  # noqa: D107 - built in the training process
        proc = counter.processor
        self.template = proc._resolve_chat_template(None)
        self.template_kwargs = dict(proc.tokenizer.special_tokens_map)
        self.tokenizer_json = proc.tokenizer.backend_tokenizer.to_str()
        self.header, self.end_id, self.pad_id = counter.header, counter.end_id, counter.pad_id
        self.min_pixels, self.max_pixels = counter.min_pixels, counter.max_pixels
        self._sizes: dict = {}
        self._backend: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sizes": {}, "_backend": None}

    def render(self, chats: list[list[dict]]) -> list[str]:
        from transformers.utils.chat_template_utils import render_jinja_template

        return render_jinja_template(conversations=chats, tools=None, documents=None, chat_template=self.template,
                                     return_assistant_tokens_mask=False, continue_final_message=False,
                                     add_generation_prompt=False, **self.template_kwargs)[0]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        if self._backend is None:
            from tokenizers import Tokenizer

            self._backend = Tokenizer.from_str(self.tokenizer_json)
        return encode_ids(self._backend, texts)

    def _finish(self, ids: list[int], sizes: list[tuple[int, int]]) -> Any:
        base, labels, in_span = self.text_counts(ids, len(sizes))
        return base, labels, [(w, h, int(inside)) for (w, h), inside in zip(sizes, in_span)]


_PROBE = [
    [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which organ? 肺部 é\n"}]},
     {"role": "assistant", "content": [{"type": "text", "text": "The left lung."}]}],
    [{"role": "system", "content": [{"type": "text", "text": "Answer briefly."}]},
     {"role": "user", "content": [{"type": "text", "text": "Define edema."}]},
     {"role": "assistant", "content": [{"type": "text", "text": "Fluid."}]},
     {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "And these?"}]},
     {"role": "assistant", "content": [{"type": "text", "text": "Both normal."}]}],
]


def worker_counter(counter: LengthCounter) -> LengthCounter:
    """:class:`TextCounter` when it renders probe conversations exactly as the processor does
    (it will, unless transformers changes what ``apply_chat_template`` adds), else the full
    counter (workers then import torch with the processor). Its tokenizer is the processor's
    by construction (the same JSON), and is not loaded here: 200 MB for nothing."""
    try:
        light = TextCounter(counter)
        if light.render(_PROBE) == counter.render(_PROBE):
            return light
        why = "renders differently"
    except (AttributeError, ImportError, TypeError, ValueError) as e:
        why = f"{type(e).__name__}: {e}"
    log.info("length index: workers get the whole processor (the text-only counter %s)", why)
    return counter
