"""The engine's queue and batching: which requests decode together, and when.

Two ways in share these rules. ``generate_many`` cuts a known list of prompts into
length-sorted batches (:func:`batches`). ``submit`` puts a request on a bounded queue
(:class:`RequestQueue`); the worker thread takes the first queued request and the
compatible ones after it (equal batch keys, :meth:`GenerationParams.batch_key`), waiting a
moment for requests known to be on their way, and a running fast decode takes more from
the head of the queue as places free up (continuous batching,
:meth:`RequestQueue.take_joiners`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lingshu.inference._handles import GenerationHandle, finish_if_cancelled
from lingshu.inference.encoding import EncodedPrompt
from lingshu.inference.types import GenerationParams


@dataclass
class Job:
    """One request as the engine holds it: the prompt, its settings (``max_new_tokens``
    already capped to the context left), its handle and its batch key."""

    prompt: EncodedPrompt
    params: GenerationParams
    handle: GenerationHandle
    key: tuple[Any, ...] | None = None

    def finish_if_cancelled(self) -> bool:
        return finish_if_cancelled(self.handle, self.prompt.n_tokens)


@dataclass
class EngineStats:
    """Counters for tests and benchmarks: did batching happen, which strategy ran?"""

    requests: int = 0
    batches: int = 0
    max_batch_size: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    strategies: list[str] = field(default_factory=list)  # per batch: "fast" or "generate"
    joined: int = 0  # requests admitted into a decode already running (continuous batching)


class QueueFull(Exception):
    """Raised by :meth:`RequestQueue.put` with the number of requests already queued."""


class QueueClosed(Exception):
    """Raised by :meth:`RequestQueue.put` once :meth:`RequestQueue.close` was called."""


class RequestQueue:
    """The bounded queue between ``submit`` (any thread) and the worker thread.

    ``batch_wait_s``: how long the worker waits after the first queued request for others
    to join its batch; while requests are known to be on their way (:meth:`arriving`) it
    waits up to ``arrival_wait_s``. ``max_queue``: requests queued beyond it are refused.
    """

    def __init__(
        self, *, max_batch_size: int, batch_wait_s: float, arrival_wait_s: float, max_queue: int
    ) -> None:
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_s
        self.arrival_wait_s = max(arrival_wait_s, batch_wait_s)
        self.max_queue = max_queue
        self._pending: deque[Job] = deque()
        self._arriving = 0
        self._cond = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None

    def put(self, job: Job, start_worker: Callable[[], threading.Thread]) -> None:
        """Queue ``job``; the worker is started (``start_worker``) with the first job."""
        with self._cond:
            if self._closed:
                raise QueueClosed
            if len(self._pending) >= self.max_queue:
                raise QueueFull(len(self._pending))
            if self._worker is None:
                self._worker = start_worker()
            self._pending.append(job)
            self._cond.notify()

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Mark a request as on its way (being parsed, its images decoded, encoded)."""
        with self._cond:
            self._arriving += 1
        try:
            yield
        finally:
            with self._cond:
                self._arriving -= 1
                self._cond.notify_all()

    def take_batch(self) -> list[Job] | None:
        """Wait for work; give the first queued job and the compatible ones after it
        (``None`` once closed and empty)."""
        with self._cond:
            while not self._pending:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._pending[0]
            if first.key is not None and self.max_batch_size > 1:
                start = time.monotonic()
                while len(self._pending) < self.max_batch_size and not self._closed:
                    wait = self.arrival_wait_s if self._arriving else self.batch_wait_s
                    left = start + wait - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            batch = [self._pending.popleft()]
            if first.key is not None:
                rest: deque[Job] = deque()
                while self._pending:
                    job = self._pending.popleft()
                    if job.key == first.key and len(batch) < self.max_batch_size:
                        batch.append(job)
                    else:
                        rest.append(job)
                self._pending = rest
        return [job for job in batch if not job.finish_if_cancelled()]

    def take_joiners(self, key: tuple[Any, ...] | None, free: int) -> list[Job]:
        """Up to ``free`` jobs from the head of the queue while they have batch ``key``:
        a job that cannot join is never overtaken."""
        jobs: list[Job] = []
        with self._cond:
            while self._pending and len(jobs) < free and self._pending[0].key == key:
                jobs.append(self._pending.popleft())
        return [job for job in jobs if not job.finish_if_cancelled()]

    def has_pending(self) -> bool:
        return bool(self._pending)

    def close(self) -> list[Job]:
        """Refuse new jobs and wake the worker; the jobs that were still queued."""
        with self._cond:
            self._closed = True
            dropped = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        return dropped

    def join(self, timeout: float) -> None:
        if self._worker is not None:
            self._worker.join(timeout)


def batches(
    items: list[Any], lengths: list[int], batch_size: int, max_batch_tokens: int | None
) -> list[list[Any]]:
    """Consecutive runs of ``items`` (sorted longest first), each of at most ``batch_size``
    rows and, when set, at most ``max_batch_tokens`` padded tokens (rows x longest)."""
    out: list[list[Any]] = []
    current: list[Any] = []
    widths: list[int] = []
    for item, n in zip(items, lengths, strict=True):
        longest = max([n, *widths])
        too_many_tokens = (
            max_batch_tokens is not None and longest * (len(current) + 1) > max_batch_tokens
        )
        if current and (len(current) >= batch_size or too_many_tokens):
            out.append(current)
            current, widths = [], []
        current.append(item)
        widths.append(n)
    if current:
        out.append(current)
    return out
