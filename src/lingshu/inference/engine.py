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
  (``_fast_strategy.admit``), so a request arriving mid-batch does not wait for the batch
  to end;
- ``generate``: ``model.generate`` on a left-padded batch for vision-language models
  (mRoPE positions and image inputs are model-specific) and for text models the fast
  decoder does not fit (it is tried once; a model it cannot run falls back for good).
  ``Engine(strategy="generate")`` forces it (benchmarks compare the two).

Every row stops on its own: end of sequence, its own ``max_new_tokens``, its own stop
strings, or cancellation (its client went away); the others go on, and a finished or
cancelled row's compute is freed as the batch goes (the fast decoder drops it; ``generate``
is told it is done). Text is streamed per row through :class:`GenerationHandle`.

Decoding follows the request's settings exactly, whatever the checkpoint's
``generation_config.json`` says (Qwen2.5-VL ships ``repetition_penalty=1.05``...): greedy
below a temperature of 1e-5; otherwise temperature / top-p sampling. In the fast decoder
each sampled row draws from its own generator seeded with its ``seed``, so a seeded answer
does not depend on its neighbours; ``generate`` has one random stream per batch, so the
queue runs a seeded sampled request alone there.

The parts live in private modules, by responsibility: ``_handles`` (what a caller holds:
handles, events, results), ``_queue`` (the queue and batching), ``_rows`` (per-row
bookkeeping: tokens, text, stopping), ``_fast_strategy`` (the fast text decoder, with
continuous batching) and ``_generate_strategy`` (``model.generate`` and what it reads from
the checkpoint). This module is their public face.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from lingshu.core.errors import UserError
from lingshu.inference._fast_strategy import decode_fast
from lingshu.inference._generate_strategy import (
    context_length,
    decode_generate,
    eos_ids,
    generation_config,
    pad_id,
)
from lingshu.inference._handles import (
    Collector,
    EngineBusy,
    FinishReason,
    GenerationError,
    GenerationHandle,
    GenerationResult,
    Listener,
    StreamEvent,
)
from lingshu.inference._queue import EngineStats, Job, QueueClosed, QueueFull, RequestQueue, batches
from lingshu.inference._rows import Rows
from lingshu.inference.encoding import EncodedPrompt, PromptEncoder, PromptError
from lingshu.inference.types import GenerationParams

if TYPE_CHECKING:
    from lingshu.models import LoadedModel

__all__ = [
    "STRATEGY_ENV",
    "Engine",
    "EngineBusy",
    "EngineStats",
    "FinishReason",
    "GenerationError",
    "GenerationHandle",
    "GenerationResult",
    "Listener",
    "StreamEvent",
    "batches",
    "eos_ids",
    "generation_config",
]

log = logging.getLogger(__name__)

Strategy = Literal["auto", "generate"]
STRATEGY_ENV = "LINGSHU_ENGINE_STRATEGY"
"""Environment variable: ``generate`` forces ``model.generate`` for every batch (default
``auto``); ``bench/serve_load.py --text-only`` uses it to compare the two strategies."""


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
        self.default_max_tokens = default_max_tokens
        self.strategy = strategy
        self.stats = EngineStats()
        self.context_length = context_length(self.model)
        self.eos_token_ids = eos_ids(self.model, self.tokenizer)
        self.pad_token_id = pad_id(self.model, self.tokenizer, self.eos_token_ids)
        self._fast_fits = True
        self._model_lock = threading.Lock()
        self._queue = RequestQueue(
            max_batch_size=max_batch_size,
            batch_wait_s=batch_wait_s,
            arrival_wait_s=arrival_wait_s,
            max_queue=max_queue,
        )

    @property
    def batch_wait_s(self) -> float:
        return self._queue.batch_wait_s

    @property
    def arrival_wait_s(self) -> float:
        return self._queue.arrival_wait_s

    @property
    def max_queue(self) -> int:
        return self._queue.max_queue

    # -- many prompts at once (evaluation, judge, GREEN) ---------------------------------

    def encode(self, messages: list[dict[str, Any]]) -> EncodedPrompt:
        """Encode one conversation (raises ``PromptError``, a ``SampleError``)."""
        return self.encoder.encode(messages)

    def generate_many(
        self, prompts: list[EncodedPrompt], params: GenerationParams
    ) -> list[GenerationResult]:
        """Answer every prompt, in order. Prompts are sorted longest first (an
        out-of-memory shows up in the first batch, and padding is minimal) and cut into
        batches of ``max_batch_size`` rows and ``max_batch_tokens``; a batch that fails
        is retried row by row, so only the culprit gets ``finish_reason="error"``."""
        results: list[GenerationResult | None] = [None] * len(prompts)
        jobs: dict[int, Job] = {}
        for i, prompt in enumerate(prompts):
            try:
                jobs[i] = self._job(prompt, params, Collector())
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
        params: GenerationParams | None = None,
        listener: Listener | None = None,
    ) -> GenerationHandle:
        """Encode ``messages`` here (raising :class:`PromptError` for a bad request) and
        queue them. ``params.max_new_tokens`` is capped to what the context leaves; no
        ``params``: greedy, ``default_max_tokens``, no seed."""
        if params is None:
            params = GenerationParams(max_new_tokens=self.default_max_tokens, seed=None)
        with self.arriving():
            prompt = self.encoder.encode(messages)
            return self._enqueue(prompt, params, listener)

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Mark a request as on its way (being parsed, its images decoded, encoded).

        A server wraps each request's preparation in this, so that a batch about to start
        waits a moment for requests that arrived together but are not queued yet.
        """
        with self._queue.arriving():
            yield

    def generate(
        self, messages: list[dict[str, Any]], params: GenerationParams | None = None
    ) -> GenerationResult:
        """Submit and wait: the blocking convenience for scripts."""
        return self.submit(messages, params).result()

    def close(self, timeout: float = 30.0) -> None:
        """Finish the batch in progress, refuse what is queued, stop the worker."""
        for job in self._queue.close():
            job.handle._emit(StreamEvent("error", "the server is shutting down"))
        self._queue.join(timeout)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _job(
        self, prompt: EncodedPrompt, params: GenerationParams, handle: GenerationHandle
    ) -> Job:
        room = self.context_length - prompt.n_tokens
        if room < 1:
            raise PromptError(
                f"the prompt has {prompt.n_tokens} tokens but the model's context holds "
                f"{self.context_length}; shorten the conversation or use smaller images"
            )
        if params.max_new_tokens > room:
            params = params.model_copy(update={"max_new_tokens": room})
        per_row_seeds = self._strategy() == "fast"
        return Job(prompt, params, handle, params.batch_key(per_row_seeds))

    def _enqueue(
        self, prompt: EncodedPrompt, params: GenerationParams, listener: Listener | None
    ) -> GenerationHandle:
        job = self._job(prompt, params, GenerationHandle(listener))
        try:
            self._queue.put(job, self._start_worker)
        except QueueClosed:
            raise GenerationError("the server is shutting down") from None
        except QueueFull as e:
            raise EngineBusy(f"{e.args[0]} requests are already queued; retry shortly") from None
        return job.handle

    # -- the queue's worker -------------------------------------------------------------

    def _start_worker(self) -> threading.Thread:
        worker = threading.Thread(target=self._run, name="lingshu-generation", daemon=True)
        worker.start()
        return worker

    def _run(self) -> None:
        while True:
            batch = self._queue.take_batch()
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

    # -- one batch, whichever way it came -----------------------------------------------

    def _run_batch(
        self, batch: list[Job], *, raise_user_errors: bool = False, joinable: bool = False
    ) -> None:
        """Decode ``batch`` to the end. ``joinable`` (the queue's batches): queued requests
        may join the decode while it runs, where the strategy allows (``_fast_strategy``)."""
        if not batch:
            return
        self.stats.requests += len(batch)
        self.stats.batches += 1
        self.stats.batch_sizes.append(len(batch))
        self.stats.max_batch_size = max(self.stats.max_batch_size, len(batch))
        rows = Rows(batch, self, batch[0].key if joinable else None)
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

    def _decode(self, rows: Rows) -> None:
        import torch

        with torch.inference_mode():
            if self._strategy() == "fast":
                try:
                    decode_fast(self, rows)
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
            decode_generate(
                self.model, list(rows),
                eos_token_ids=self.eos_token_ids, pad_token_id=self.pad_token_id,
            )  # fmt: skip
            self.stats.strategies.append("generate")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
