"""A generation engine: one worker thread owns the model; requests queue and are batched.

Why one worker: a model on one device runs one forward pass at a time anyway, and two
threads calling ``generate`` on the same model would interleave their caches. Requests
from any number of threads (HTTP handlers, the chat CLI) are encoded in the caller's
thread, queued, and the worker takes them in arrival order, joining those with the same
decoding mode into one batched ``generate`` call. On a CPU a batch of 16 costs little more
per step than a batch of 1, which is where concurrent throughput comes from.

Batching never changes an answer's meaning: rows are left-padded and masked, every row
stops on its own (end of sequence, its own ``max_tokens`` or stop sequence) while the
others go on, and text is streamed per row through :class:`GenerationHandle`. Greedy
requests batch together; sampled requests batch with others of the same temperature and
top-p; a sampled request with a ``seed`` runs alone, since a shared random stream would
make its answer depend on its neighbours.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

from lingshu.serve.decoding import IncrementalText
from lingshu.serve.encoding import EncodedPrompt, PromptEncoder, PromptError, collate

if TYPE_CHECKING:
    from lingshu.models import LoadedModel

log = logging.getLogger(__name__)

FinishReason = Literal["stop", "length", "cancelled"]


class EngineBusy(RuntimeError):
    """The queue is full; the client should retry later (HTTP 429)."""


class GenerationError(RuntimeError):
    """Generation failed inside the model; the message is safe to show to a client."""


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings of one request. ``temperature`` 0 (or ``top_p`` 0) means greedy."""

    GREEDY_BELOW = 1e-5
    """Temperatures under this decode greedily: that is what they approach, and dividing
    logits by a near-zero temperature can overflow to inf and NaN probabilities."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature < self.GREEDY_BELOW or self.top_p <= 0.0

    def batch_key(self) -> tuple[Any, ...] | None:
        """Requests with equal keys may share a ``generate`` call; ``None``: run alone."""
        if self.greedy:
            return ("greedy",)
        if self.seed is not None:
            return None
        return ("sample", self.temperature, self.top_p)


@dataclass
class GenerationResult:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


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


@dataclass
class _Job:
    prompt: EncodedPrompt
    params: SamplingParams
    handle: GenerationHandle
    key: tuple[Any, ...] | None = field(init=False)

    def __post_init__(self) -> None:
        self.key = self.params.batch_key()


@dataclass
class EngineStats:
    """Counters for tests and benchmarks: did batching actually happen?"""

    requests: int = 0
    batches: int = 0
    max_batch_size: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class GenerationEngine:
    """Owns ``loaded.model`` through one worker thread; see the module docstring.

    ``max_batch_size``: requests per ``generate`` call. ``batch_wait_s``: how long the
    worker waits after the first queued request for others to join its batch (a few
    milliseconds lets clients that send together be served together); while requests are
    known to be on their way (see :meth:`arriving`; :meth:`submit` counts its own encoding)
    it waits for them up to ``arrival_wait_s``. ``max_queue``: queued requests beyond this
    are refused with :class:`EngineBusy`.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_batch_size: int = 8,
        batch_wait_s: float = 0.005,
        arrival_wait_s: float = 0.1,
        max_queue: int = 256,
        default_max_tokens: int = 512,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.loaded = loaded
        self.model = loaded.model
        self.encoder = PromptEncoder(loaded)
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_s
        self.arrival_wait_s = max(arrival_wait_s, batch_wait_s)
        self.max_queue = max_queue
        self.default_max_tokens = default_max_tokens
        self.stats = EngineStats()
        self.context_length = _context_length(self.model)
        self.eos_token_ids = _eos_ids(self.model, loaded.tokenizer)
        self.pad_token_id = _pad_id(self.model, loaded.tokenizer, self.eos_token_ids)
        self._pending: deque[_Job] = deque()
        self._arriving = 0
        self._cond = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="lingshu-generation", daemon=True)
        self._worker.start()

    # -- submitting ---------------------------------------------------------------------

    def submit(
        self,
        messages: list[dict[str, Any]],
        params: SamplingParams | None = None,
        listener: Listener | None = None,
    ) -> GenerationHandle:
        """Encode ``messages`` here (raising :class:`PromptError` for a bad request) and
        queue them. ``params.max_tokens`` is capped to what the context leaves."""
        params = params or SamplingParams(max_tokens=self.default_max_tokens)
        with self.arriving():
            prompt = self.encoder.encode(messages)
            return self._enqueue(prompt, params, listener)

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Mark a request as on its way (being parsed, its images decoded, encoded).

        A server wraps each request's preparation in this, so that a batch about to start
        waits a moment for requests that arrived together but are not queued yet.
        """
        with self._cond:
            self._arriving += 1
        try:
            yield
        finally:
            with self._cond:
                self._arriving -= 1
                self._cond.notify_all()

    def _enqueue(
        self, prompt: EncodedPrompt, params: SamplingParams, listener: Listener | None
    ) -> GenerationHandle:
        room = self.context_length - prompt.n_tokens
        if room < 1:
            raise PromptError(
                f"the prompt has {prompt.n_tokens} tokens but the model's context holds "
                f"{self.context_length}; shorten the conversation or use smaller images"
            )
        if params.max_tokens > room:
            params = SamplingParams(
                max_tokens=room,
                temperature=params.temperature,
                top_p=params.top_p,
                seed=params.seed,
                stop=params.stop,
            )
        handle = GenerationHandle(listener)
        with self._cond:
            if self._closed:
                raise GenerationError("the server is shutting down")
            if len(self._pending) >= self.max_queue:
                raise EngineBusy(f"{len(self._pending)} requests are already queued; retry shortly")
            self._pending.append(_Job(prompt, params, handle))
            self._cond.notify()
        return handle

    def generate(
        self, messages: list[dict[str, Any]], params: SamplingParams | None = None
    ) -> GenerationResult:
        """Submit and wait: the blocking convenience for scripts and the chat CLI."""
        return self.submit(messages, params).result()

    def close(self, timeout: float = 30.0) -> None:
        """Finish the batch in progress, refuse what is queued, stop the worker."""
        with self._cond:
            self._closed = True
            dropped = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        for job in dropped:
            job.handle._emit(StreamEvent("error", "the server is shutting down"))
        self._worker.join(timeout)

    def __enter__(self) -> GenerationEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the worker ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            if not batch:
                continue
            try:
                self._run_batch(batch)
            except Exception:  # the worker must survive anything a batch does
                log.exception("generation worker: unexpected failure")
                for job in batch:
                    job.handle._emit(StreamEvent("error", "generation failed"))

    def _take_batch(self) -> list[_Job] | None:
        """Wait for work; give the first queued job and the compatible ones after it."""
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
                rest: deque[_Job] = deque()
                while self._pending:
                    job = self._pending.popleft()
                    if job.key == first.key and len(batch) < self.max_batch_size:
                        batch.append(job)
                    else:
                        rest.append(job)
                self._pending = rest
        live = [job for job in batch if not job.handle.cancelled]
        for job in batch:
            if job.handle.cancelled:
                job.handle._emit(
                    StreamEvent(
                        "done", result=GenerationResult("", "cancelled", job.prompt.n_tokens, 0)
                    )
                )
        return live

    def _run_batch(self, batch: list[_Job]) -> None:
        self.stats.requests += len(batch)
        self.stats.batches += 1
        self.stats.batch_sizes.append(len(batch))
        self.stats.max_batch_size = max(self.stats.max_batch_size, len(batch))
        rows = [
            _Row(
                job,
                IncrementalText(self.loaded.tokenizer, job.params.stop, self.encoder.lock),
                self.eos_token_ids,
            )
            for job in batch
        ]
        try:
            self._generate(batch, rows)
        except Exception:
            log.exception("generation failed for a batch of %d", len(batch))
            untouched = [job for job, row in zip(batch, rows) if not row.token_ids]
            for job, row in zip(batch, rows):
                if row.token_ids and not row.done:
                    job.handle._emit(StreamEvent("error", "generation failed"))
            if len(batch) > 1:  # one bad row must not sink the others: retry them alone
                for job in untouched:
                    self._run_batch([job])
            else:
                for job in untouched:
                    job.handle._emit(StreamEvent("error", "generation failed"))
            return
        for row in rows:
            row.finish("length")

    def _generate(self, batch: list[_Job], rows: list[_Row]) -> None:
        inputs = collate([job.prompt for job in batch], self.pad_token_id)
        device = self.model.device
        dtype = self.model.dtype
        inputs = {
            k: v.to(device=device, dtype=dtype) if v.is_floating_point() else v.to(device)
            for k, v in inputs.items()
        }
        params = batch[0].params
        config = GenerationConfig(
            max_new_tokens=max(job.params.max_tokens for job in batch),
            do_sample=not params.greedy,
            temperature=params.temperature if not params.greedy else None,
            top_p=params.top_p if not params.greedy else None,
            top_k=0 if not params.greedy else None,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
        )
        if not params.greedy and params.seed is not None:
            torch.manual_seed(params.seed)
        with torch.inference_mode():
            self.model.generate(
                **inputs,
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([_RowStopper(rows)]),
            )


class _Row:
    """One request inside a running batch: its tokens, its text, whether it is done."""

    def __init__(self, job: _Job, text: IncrementalText, eos_ids: list[int]) -> None:
        self.job = job
        self.text = text
        self.eos_ids = set(eos_ids)
        self.done = False
        self.n_generated = 0

    @property
    def token_ids(self) -> list[int]:
        return self.text.token_ids

    def step(self, token_id: int) -> None:
        if self.done:
            return
        if self.job.handle.cancelled:
            self.finish("cancelled")
            return
        self.n_generated += 1
        if token_id in self.eos_ids:
            self.finish("stop")
            return
        piece, hit_stop = self.text.add(token_id)
        if piece:
            self.job.handle._emit(StreamEvent("delta", piece))
        if hit_stop:
            self.finish("stop")
        elif self.n_generated >= self.job.params.max_tokens:
            self.finish("length")

    def finish(self, reason: FinishReason) -> None:
        if self.done:
            return
        self.done = True
        rest = self.text.finish()
        if rest:
            self.job.handle._emit(StreamEvent("delta", rest))
        result = GenerationResult(
            text=self.text.text,
            finish_reason=reason,
            prompt_tokens=self.job.prompt.n_tokens,
            completion_tokens=self.n_generated,
        )
        self.job.handle._emit(StreamEvent("done", result=result))


class _RowStopper(StoppingCriteria):
    """Called by ``generate`` after every step with the sequences so far: feeds each row
    its new token and tells ``generate`` which rows are finished."""

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        last = input_ids[:, -1].tolist()
        for row, token in zip(self.rows, last):
            row.step(int(token))
        return torch.tensor(
            [row.done for row in self.rows], dtype=torch.bool, device=input_ids.device
        )


def _context_length(model: Any) -> int:
    config = model.config
    for cfg in (getattr(config, "text_config", None), config):
        n = getattr(cfg, "max_position_embeddings", None) if cfg is not None else None
        if n:
            return int(n)
    return 4096


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    if ids is None:
        ids = tokenizer.eos_token_id
    if ids is None:
        return []
    return [int(i) for i in (ids if isinstance(ids, (list, tuple)) else [ids])]


def _pad_id(model: Any, tokenizer: Any, eos_ids: list[int]) -> int:
    for candidate in (
        tokenizer.pad_token_id,
        getattr(model.generation_config, "pad_token_id", None),
    ):
        if candidate is not None:
            return int(candidate)
    return eos_ids[0] if eos_ids else 0
