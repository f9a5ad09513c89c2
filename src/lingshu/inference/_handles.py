"""What a caller of the engine holds: a handle on a submitted request, the events it
streams and the result it ends with.

A handle is written to by the engine's worker thread (:meth:`GenerationHandle._emit`) and
read by the caller's thread (``stream``, ``result``) or by a listener, which is how an
asyncio server hands the events to its event loop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("lingshu.inference.engine")

FinishReason = Literal["stop", "length", "cancelled", "error"]


class EngineBusy(RuntimeError):
    """The queue is full; the client should retry later (HTTP 429)."""


class GenerationError(RuntimeError):
    """Generation failed inside the model; the message is safe to show to a client."""


@dataclass
class GenerationResult:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    error: str | None = None  # set with finish_reason "error": why this request failed


@dataclass(frozen=True)
class StreamEvent:
    """``delta``: new text; ``done``: ``result`` is final; ``error``: ``text`` says why."""

    kind: Literal["delta", "done", "error"]
    text: str = ""
    result: GenerationResult | None = None


Listener = Callable[[StreamEvent], None]


class GenerationHandle:
    """A submitted request: stream its text, wait for its result, or cancel it.

    Events are also passed to ``listener`` (called from the worker thread; it must not
    block), which is how an asyncio server hands them to its event loop.
    """

    def __init__(self, listener: Listener | None = None) -> None:
        self._events: queue.SimpleQueue[StreamEvent] = queue.SimpleQueue()
        self._listener = listener
        self._finished = threading.Event()
        self._cancelled = threading.Event()
        self._result: GenerationResult | None = None
        self._error: str | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def streaming(self) -> bool:
        """Whether anyone may read text before the end (a listener, or :meth:`stream`)."""
        return True

    def cancel(self) -> None:
        """Stop generating for this request (e.g. its client went away)."""
        self._cancelled.set()

    def stream(self) -> Iterator[str]:
        """Text pieces as they are generated; raises :class:`GenerationError` on failure."""
        while True:
            ev = self._events.get()
            if ev.kind == "delta":
                yield ev.text
            elif ev.kind == "done":
                return
            else:
                raise GenerationError(ev.text)

    def result(self, timeout: float | None = None) -> GenerationResult:
        if not self._finished.wait(timeout):
            raise TimeoutError("generation did not finish in time")
        if self._error is not None:
            raise GenerationError(self._error)
        assert self._result is not None
        return self._result

    def _emit(self, ev: StreamEvent) -> None:
        if self._finished.is_set():
            return
        if ev.kind == "done":
            self._result = ev.result
        elif ev.kind == "error":
            self._error = ev.text
        self._events.put(ev)
        if self._listener is not None:
            try:
                self._listener(ev)
            except Exception:  # a broken consumer must not take the worker down
                log.exception("stream listener failed")
        if ev.kind != "delta":
            self._finished.set()


class Collector(GenerationHandle):
    """A handle nobody streams from (``generate_many``): text is decoded once at the end
    instead of after every token, unless stop strings need it."""

    @property
    def streaming(self) -> bool:
        return False


def finish_if_cancelled(handle: GenerationHandle, prompt_tokens: int) -> bool:
    """End a request cancelled before it reached the model; whether it was."""
    if not handle.cancelled:
        return False
    handle._emit(StreamEvent("done", result=GenerationResult("", "cancelled", prompt_tokens, 0)))
    return True
