"""The generation engine: one owner of a loaded model, two ways in, one way to decode.

Every local generation in Lingshu runs here: the evaluation ``hf`` backend and the judge
through :meth:`Engine.generate_many` (a list of prompts, length-sorted into batches), the
server and ``lingshu chat`` through :meth:`Engine.submit` (a bounded queue that a worker
thread drains, batching requests that arrive together), GREEN through ``generate_many``
on prompts tokenized its own way. Both ways end in :meth:`Engine._run_batch`, so stopping,
streaming, cancellation and the choice of decoding strategy are written once.

Decoding strategies, chosen per batch (:meth:`Engine._strategy`):

- ``fast``: text-only causal LMs go through ``_causal_decode`` (shared prompt prefix
  computed once, prompts prefilled in groups of similar length, finished rows dropped);
  4.3-6x over one-at-a-time and 1.8x over batched ``generate`` on SmolLM2 (see
  docs/performance.md), same greedy tokens. The queue's batches are continuous: while
  one decodes, queued requests with its batch key join it as places free up
  (:meth:`Engine._admit`), so a request arriving mid-batch does not wait for the batch
  to end;
- ``generate``: ``model.generate`` on a left-padded batch for vision-language models
  (mRoPE positions and image inputs are model-specific) and for text models the fast
  decoder does not fit (it is tried once; a model it cannot run falls back for good).
  ``Engine(strategy="generate")`` forces it (benchmarks compare the two).

Every row stops on its own: end of sequence, its own ``max_tokens``, its own stop strings,
or cancellation (its client went away); the others go on, and a finished or cancelled
row's compute is freed as the batch goes (the fast decoder drops it; ``generate`` is told
it is done). Text is streamed per row through :class:`GenerationHandle`.

Decoding follows the request's settings exactly, whatever the checkpoint's
``generation_config.json`` says (Qwen2.5-VL ships ``repetition_penalty=1.05``...): greedy
below a temperature of 1e-5 or a top-p of 0; otherwise temperature / top-p sampling. In
the fast decoder each sampled row draws from its own generator seeded with its ``seed``,
so a seeded answer does not depend on its neighbours; ``generate`` has one random stream
per batch, so the queue runs a seeded sampled request alone there.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from lingshu.core.errors import UserError
from lingshu.inference.decoding import IncrementalText
from lingshu.inference.encoding import EncodedPrompt, PromptEncoder, PromptError, collate
from lingshu.inference.types import GenerationParams

if TYPE_CHECKING:
    from lingshu.inference._causal_decode import Joining
    from lingshu.models import LoadedModel

log = logging.getLogger(__name__)

FinishReason = Literal["stop", "length", "cancelled", "error"]
Strategy = Literal["auto", "generate"]
STRATEGY_ENV = "LINGSHU_ENGINE_STRATEGY"
"""Environment variable: ``generate`` forces ``model.generate`` for every batch (default
``auto``); ``bench/serve_load.py --text-only`` uses it to compare the two strategies."""


class EngineBusy(RuntimeError):
    """The queue is full; the client should retry later (HTTP 429)."""


class GenerationError(RuntimeError):
    """Generation failed inside the model; the message is safe to show to a client."""


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings of one request. ``temperature`` 0 (or ``top_p`` 0) means greedy;
    ``seed`` None means an unseeded random stream."""

    GREEDY_BELOW = 1e-5
    """Temperatures under this decode greedily: that is what they approach, and dividing
    logits by a near-zero temperature can overflow to inf and NaN probabilities."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def from_generation(cls, params: GenerationParams) -> SamplingParams:
        """The engine's form of an evaluation's :class:`GenerationParams`."""
        return cls(
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            stop=tuple(params.stop),
        )

    @property
    def greedy(self) -> bool:
        return self.temperature < self.GREEDY_BELOW or self.top_p <= 0.0

    def batch_key(self, per_row_seeds: bool) -> tuple[Any, ...] | None:
        """Queued requests with equal keys may share a batch; ``None``: run alone.

        ``per_row_seeds``: whether the strategy gives each row its own random stream (the
        fast decoder); with one stream per batch a seeded request must run alone, since a
        shared stream would make its answer depend on its neighbours.
        """
        if self.greedy:
            return ("greedy",)
        if self.seed is not None and not per_row_seeds:
            return None
        return ("sample", self.temperature, self.top_p)


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


class _Collector(GenerationHandle):
    """A handle nobody streams from (``generate_many``): text is decoded once at the end
    instead of after every token, unless stop strings need it."""

    @property
    def streaming(self) -> bool:
        return False


@dataclass
class _Job:
    prompt: EncodedPrompt
    params: SamplingParams
    handle: GenerationHandle
    key: tuple[Any, ...] | None = None


@dataclass
class EngineStats:
    """Counters for tests and benchmarks: did batching happen, which strategy ran?"""

    requests: int = 0
    batches: int = 0
    max_batch_size: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    strategies: list[str] = field(default_factory=list)  # per batch: "fast" or "generate"
    joined: int = 0  # requests admitted into a decode already running (continuous batching)


class Engine:
    """Owns ``loaded.model``; see the module docstring.

    ``max_batch_size``: rows decoded together. ``max_batch_tokens``: when set, a batch of
    ``generate_many`` holds at most this many padded prompt tokens (rows x longest).
    ``batch_wait_s``: how long the queue's worker waits after the first queued request
    for others to join its batch; while requests are known to be on their way (see
    :meth:`arriving`) it waits up to ``arrival_wait_s``. ``max_queue``: queued requests
    beyond this are refused with :class:`EngineBusy`. ``strategy``: ``auto`` (fast decoder
    where it applies) or ``generate`` (always ``model.generate``); default from the
    ``LINGSHU_ENGINE_STRATEGY`` environment variable, else ``auto``.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_batch_size: int = 8,
        max_batch_tokens: int | None = None,
        batch_wait_s: float = 0.005,
        arrival_wait_s: float = 0.1,
        max_queue: int = 256,
        default_max_tokens: int = 512,
        strategy: Strategy | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if strategy is None:  # a setting, so benchmarks can force it on a server process
            strategy = os.environ.get(STRATEGY_ENV, "auto")  # type: ignore[assignment]
        if strategy not in ("auto", "generate"):
            raise UserError(f"{STRATEGY_ENV}={strategy!r}: expected 'auto' or 'generate'")
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.encoder = PromptEncoder(loaded)
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens
        self.batch_wait_s = batch_wait_s
        self.arrival_wait_s = max(arrival_wait_s, batch_wait_s)
        self.max_queue = max_queue
        self.default_max_tokens = default_max_tokens
        self.strategy = strategy
        self.stats = EngineStats()
        self.context_length = _context_length(self.model)
        self.eos_token_ids = eos_ids(self.model, self.tokenizer)
        self.pad_token_id = _pad_id(self.model, self.tokenizer, self.eos_token_ids)
        self._fast_fits = True
        self._model_lock = threading.Lock()
        self._pending: deque[_Job] = deque()
        self._arriving = 0
        self._cond = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None

    # -- many prompts at once (evaluation, judge, GREEN) ---------------------------------

    def encode(self, messages: list[dict[str, Any]]) -> EncodedPrompt:
        """Encode one conversation (raises ``PromptError``, a ``SampleError``)."""
        return self.encoder.encode(messages)

    def generate_many(
        self, prompts: list[EncodedPrompt], params: SamplingParams
    ) -> list[GenerationResult]:
        """Answer every prompt, in order. Prompts are sorted longest first (an
        out-of-memory shows up in the first batch, and padding is minimal) and cut into
        batches of ``max_batch_size`` rows and ``max_batch_tokens``; a batch that fails
        is retried row by row, so only the culprit gets ``finish_reason="error"``."""
        results: list[GenerationResult | None] = [None] * len(prompts)
        jobs: dict[int, _Job] = {}
        for i, prompt in enumerate(prompts):
            try:
                jobs[i] = self._job(prompt, params, _Collector())
            except PromptError as e:
                results[i] = GenerationResult("", "error", prompt.n_tokens, 0, str(e))
        order = sorted(jobs, key=lambda i: (-jobs[i].prompt.n_tokens, i))
        for batch in batches(
            [jobs[i] for i in order],
            [jobs[i].prompt.n_tokens for i in order],
            self.max_batch_size,
            self.max_batch_tokens,
        ):
            self._run_batch(batch, raise_user_errors=True)
        for i, job in jobs.items():
            h = job.handle
            if h._error is not None:
                results[i] = GenerationResult("", "error", job.prompt.n_tokens, 0, h._error)
            else:
                results[i] = h._result
        return [r or GenerationResult("", "error", 0, 0, "internal: no result") for r in results]

    # -- one request at a time, from any thread (server, chat) ----------------------------

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

    def generate(
        self, messages: list[dict[str, Any]], params: SamplingParams | None = None
    ) -> GenerationResult:
        """Submit and wait: the blocking convenience for scripts."""
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
        if self._worker is not None:
            self._worker.join(timeout)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _job(
        self, prompt: EncodedPrompt, params: SamplingParams, handle: GenerationHandle
    ) -> _Job:
        room = self.context_length - prompt.n_tokens
        if room < 1:
            raise PromptError(
                f"the prompt has {prompt.n_tokens} tokens but the model's context holds "
                f"{self.context_length}; shorten the conversation or use smaller images"
            )
        if params.max_tokens > room:
            params = replace(params, max_tokens=room)
        per_row_seeds = self._strategy() == "fast"
        return _Job(prompt, params, handle, params.batch_key(per_row_seeds))

    def _enqueue(
        self, prompt: EncodedPrompt, params: SamplingParams, listener: Listener | None
    ) -> GenerationHandle:
        job = self._job(prompt, params, GenerationHandle(listener))
        with self._cond:
            if self._closed:
                raise GenerationError("the server is shutting down")
            if len(self._pending) >= self.max_queue:
                raise EngineBusy(f"{len(self._pending)} requests are already queued; retry shortly")
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="lingshu-generation", daemon=True
                )
                self._worker.start()
            self._pending.append(job)
            self._cond.notify()
        return job.handle

    # -- the queue's worker -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            if not batch:
                continue
            try:
                self._run_batch(batch, joinable=True)
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
        return [job for job in batch if not _finish_if_cancelled(job)]

    # -- one batch, whichever way it came -----------------------------------------------

    def _run_batch(
        self, batch: list[_Job], *, raise_user_errors: bool = False, joinable: bool = False
    ) -> None:
        """Decode ``batch`` to the end. ``joinable`` (the queue's batches): queued requests
        may join the decode while it runs, where the strategy allows (:meth:`_admit`)."""
        if not batch:
            return
        self.stats.requests += len(batch)
        self.stats.batches += 1
        self.stats.batch_sizes.append(len(batch))
        self.stats.max_batch_size = max(self.stats.max_batch_size, len(batch))
        rows = _Rows(batch, self, batch[0].key if joinable else None)
        try:
            with self._model_lock:
                self._decode(rows)
        except UserError:
            if raise_user_errors:
                raise
            log.exception("generation failed for a batch of %d", rows.count)
            for row in rows:
                row.fail("generation failed")
            return
        except Exception as e:  # noqa: BLE001 - one bad request must not sink the batch
            log.exception("generation failed for a batch of %d", rows.count)
            untouched = [row.job for row in rows if not row.token_ids and not row.done]
            for row in rows:
                if row.token_ids and not row.done:
                    row.fail(f"{type(e).__name__}: {_first_line(e)}")
            if rows.count > 1:  # one bad row must not sink the others: retry them alone
                for job in untouched:
                    self._run_batch([job], raise_user_errors=raise_user_errors)
            else:
                for job in untouched:
                    job.handle._emit(StreamEvent("error", f"{type(e).__name__}: {_first_line(e)}"))
            return
        for row in rows:
            row.finish("length")

    def _strategy(self) -> str:
        """``fast`` for text-only causal LMs the fast decoder fits, else ``generate``."""
        if self.strategy == "auto" and self.loaded.kind == "causal_lm" and self._fast_fits:
            return "fast"
        return "generate"

    def _decode(self, rows: _Rows) -> None:
        import torch

        with torch.inference_mode():
            if self._strategy() == "fast":
                try:
                    self._decode_fast(rows)
                    self.stats.strategies.append("fast")
                    return
                except (TypeError, AttributeError, NotImplementedError, ValueError) as e:
                    if any(row.token_ids or row.done for row in rows):
                        raise
                    log.warning(
                        "%s: the fast text decoder does not fit this model (%s: %s); "
                        "using transformers' generate instead",
                        self.loaded.source, type(e).__name__, str(e).splitlines()[0][:200],
                    )  # fmt: skip
                    self._fast_fits = False
            self._decode_generate(list(rows))
            self.stats.strategies.append("generate")

    def _decode_fast(self, rows: _Rows) -> None:
        """The fast decoder over ``rows``; when they have a batch key, queued requests with
        that key join as it runs (continuous batching, :meth:`_admit`)."""
        from lingshu.inference._causal_decode import run_causal

        first = list(rows)
        params = first[0].job.params
        run_causal(
            self.model,
            [row.job.prompt.token_ids() for row in first],
            GenerationParams(
                temperature=0.0 if params.greedy else params.temperature, top_p=params.top_p
            ),
            pad_id=self.pad_token_id,
            step=lambda i, token: rows[i].step(token),
            generators=None if params.greedy else [self._generator(r.job.params) for r in first],
            admit=None if rows.key is None else lambda: self._admit(rows),
        )

    def _admit(self, rows: _Rows) -> list[Joining]:
        """Continuous batching: queued requests that join the running fast decode, up to
        ``max_batch_size`` live rows. Without it a request arriving just after a batch
        started waited for the whole batch, and rows that finished early left their
        places idle (a step costs about the same for 1 row as for 16).

        Requests are taken from the head of the queue only, while they share the decode's
        batch key (the same greedy or sampling settings): a request that cannot join is
        never overtaken; the decode then takes no more rows, ends, and it runs next."""
        from lingshu.inference._causal_decode import Joining

        if not self._pending:  # asked before every step: the common case costs no lock
            return []
        rows.forget_finished()
        free = self.max_batch_size - rows.live
        if free <= 0:
            return []
        jobs: list[_Job] = []
        with self._cond:
            while self._pending and len(jobs) < free and self._pending[0].key == rows.key:
                jobs.append(self._pending.popleft())
        jobs = [job for job in jobs if not _finish_if_cancelled(job)]
        self.stats.requests += len(jobs)
        self.stats.joined += len(jobs)
        return [
            Joining(
                rows.add(job, self),
                job.prompt.token_ids(),
                None if job.params.greedy else self._generator(job.params),
            )
            for job in jobs
        ]

    def _generator(self, params: SamplingParams) -> Any:
        """A sampled row's own random stream, seeded with its request's seed."""
        import torch

        return torch.Generator(device=self.model.device).manual_seed(_seed(params))

    def _decode_generate(self, rows: list[_Row]) -> None:
        import torch
        from transformers import StoppingCriteriaList

        inputs = collate([row.job.prompt for row in rows], self.pad_token_id)
        device, dtype = self.model.device, self.model.dtype
        inputs = {
            k: v.to(device=device, dtype=dtype) if v.is_floating_point() else v.to(device)
            for k, v in inputs.items()
        }
        params = rows[0].job.params
        config = generation_config(
            params,
            max_new_tokens=max(row.job.params.max_tokens for row in rows),
            eos_token_ids=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
        )
        devices = list(range(torch.cuda.device_count()))
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_seed(params))  # sampling reproducible; global RNG untouched
            self.model.generate(
                **inputs,
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([_row_stopper(rows)]),
            )


class _Rows:
    """The rows of one decode, by the id the decoder knows each by. Requests with the batch
    ``key`` join a fast decode as it runs (``None``: none may), so ids only grow
    (``count``: rows so far); finished rows are forgotten as others join, so a decode that
    never pauses holds only its live rows."""

    def __init__(self, jobs: list[_Job], engine: Engine, key: tuple[Any, ...] | None) -> None:
        self._rows = {i: _Row(job, engine) for i, job in enumerate(jobs)}
        self.count = len(jobs)
        self.key = key

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> _Row:
        return self._rows[i]

    def __iter__(self) -> Iterator[_Row]:
        return iter(list(self._rows.values()))

    @property
    def live(self) -> int:
        return sum(not row.done for row in self._rows.values())

    def add(self, job: _Job, engine: Engine) -> int:
        i = self.count
        self._rows[i] = _Row(job, engine)
        self.count += 1
        return i

    def forget_finished(self) -> None:
        """Drop finished rows (the decoder asks nothing more of a row once it is done)."""
        for i in [i for i, row in self._rows.items() if row.done]:
            del self._rows[i]


class _Row:
    """One request inside a running batch: its tokens, its text, whether it is done."""

    def __init__(self, job: _Job, engine: Engine) -> None:
        self.job = job
        self.eos_ids = set(engine.eos_token_ids)
        self.tokenizer = engine.tokenizer
        self.lock = engine.encoder.lock
        incremental = job.handle.streaming or bool(job.params.stop)
        self.text = IncrementalText(self.tokenizer, job.params.stop, self.lock) if incremental else None
        self.token_ids: list[int] = []
        self.done = False
        self.n_generated = 0

    def step(self, token_id: int) -> bool:
        """Take the row's next token; return whether the row is done."""
        if self.done:
            return True
        if self.job.handle.cancelled:
            self.finish("cancelled")
            return True
        self.n_generated += 1
        if token_id in self.eos_ids:
            self.finish("stop")
            return True
        self.token_ids.append(token_id)
        if self.text is not None:
            piece, hit_stop = self.text.add(token_id)
            if piece:
                self.job.handle._emit(StreamEvent("delta", piece))
            if hit_stop:
                self.finish("stop")
                return True
        if self.n_generated >= self.job.params.max_tokens:
            self.finish("length")
            return True
        return False

    def finish(self, reason: FinishReason) -> None:
        if self.done:
            return
        self.done = True
        if self.text is not None:
            rest = self.text.finish()
            if rest:
                self.job.handle._emit(StreamEvent("delta", rest))
            text = self.text.text
        else:
            with self.lock:
                text = self.tokenizer.decode(self.token_ids, skip_special_tokens=True)
            text = text.rstrip("\ufffd")  # as IncrementalText: a cut character is dropped
        result = GenerationResult(
            text=text,
            finish_reason=reason,
            prompt_tokens=self.job.prompt.n_tokens,
            completion_tokens=self.n_generated,
        )
        self.job.handle._emit(StreamEvent("done", result=result))

    def fail(self, message: str) -> None:
        self.done = True
        self.job.handle._emit(StreamEvent("error", message))


def _finish_if_cancelled(job: _Job) -> bool:
    if not job.handle.cancelled:
        return False
    job.handle._emit(
        StreamEvent("done", result=GenerationResult("", "cancelled", job.prompt.n_tokens, 0))
    )
    return True


def _row_stopper(rows: list[_Row]) -> Any:
    from transformers import StoppingCriteria

    class RowStopper(StoppingCriteria):
        """Called by ``generate`` after every step with the sequences so far: feeds each
        row its new token and tells ``generate`` which rows are finished."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            last = input_ids[:, -1].tolist()
            for row, token in zip(rows, last, strict=True):
                row.step(int(token))
            return torch.tensor([row.done for row in rows], dtype=torch.bool, device=input_ids.device)

    return RowStopper()


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


def generation_config(
    params: SamplingParams, *, max_new_tokens: int, eos_token_ids: list[int], pad_token_id: int
) -> Any:
    """A ``GenerationConfig`` that decodes exactly as ``params`` says, whatever the
    checkpoint defaults: transformers fills every unset field from the checkpoint's
    ``generation_config.json``, so the fields that change greedy or sampled outputs are set
    explicitly. Stop strings are the engine's business (per row), not ``generate``'s."""
    from transformers import GenerationConfig

    common: dict[str, Any] = dict(
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_token_ids,
        pad_token_id=pad_token_id,
        num_beams=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        min_length=0,
    )
    if params.greedy:
        # Neutral values for the sampling knobs: unset, they would be inherited from the
        # checkpoint and make transformers warn on every call that greedy ignores them.
        return GenerationConfig(
            do_sample=False, temperature=1.0, top_p=1.0, top_k=50, typical_p=1.0,
            epsilon_cutoff=0.0, eta_cutoff=0.0, **common,
        )  # fmt: skip
    return GenerationConfig(
        do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0,
        min_p=0.0, typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0, **common,
    )  # fmt: skip


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """The checkpoint's end-of-generation ids plus the tokenizer's (chat turn end)."""
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return [int(i) for i in ids]


def _seed(params: SamplingParams) -> int:
    return params.seed if params.seed is not None else random.SystemRandom().randrange(2**63)


def _context_length(model: Any) -> int:
    config = model.config
    for cfg in (getattr(config, "text_config", None), config):
        n = getattr(cfg, "max_position_embeddings", None) if cfg is not None else None
        if n:
            return int(n)
    return 4096


def _pad_id(model: Any, tokenizer: Any, eos: list[int]) -> int:
    for candidate in (
        tokenizer.pad_token_id,
        getattr(model.generation_config, "pad_token_id", None),
    ):
        if candidate is not None:
            return int(candidate)
    return eos[0] if eos else 0


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
