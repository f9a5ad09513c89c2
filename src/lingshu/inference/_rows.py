"""Per-row bookkeeping of a running decode: each request's tokens, its text, when it stops.

Every row stops on its own: end of sequence, its own ``max_new_tokens``, its own stop
strings, or cancellation (its client went away); the others go on. Whichever strategy
decodes, it hands each row its next token through :meth:`Row.step` and learns from the
answer whether the row is done, so stopping and streaming are written once, here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lingshu.inference._handles import FinishReason, GenerationResult, StreamEvent
from lingshu.inference._queue import Job
from lingshu.inference.decoding import IncrementalText

if TYPE_CHECKING:
    from lingshu.inference.engine import Engine


class Rows:
    """The rows of one decode, by the id the decoder knows each by. Requests with the batch
    ``key`` join a fast decode as it runs (``None``: none may), so ids only grow
    (``count``: rows so far); finished rows are forgotten as others join, so a decode that
    never pauses holds only its live rows."""

    def __init__(self, jobs: list[Job], engine: Engine, key: tuple[Any, ...] | None) -> None:
        self._rows = {i: Row(job, engine) for i, job in enumerate(jobs)}
        self.count = len(jobs)
        self.key = key

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> Row:
        return self._rows[i]

    def __iter__(self) -> Iterator[Row]:
        return iter(list(self._rows.values()))

    @property
    def live(self) -> int:
        return sum(not row.done for row in self._rows.values())

    def add(self, job: Job, engine: Engine) -> int:
        i = self.count
        self._rows[i] = Row(job, engine)
        self.count += 1
        return i

    def forget_finished(self) -> None:
        """Drop finished rows (the decoder asks nothing more of a row once it is done)."""
        for i in [i for i, row in self._rows.items() if row.done]:
            del self._rows[i]


class Row:
    """One request inside a running batch: its tokens, its text, whether it is done."""

    def __init__(self, job: Job, engine: Engine) -> None:
        self.job = job
        self.eos_ids = set(engine.eos_token_ids)
        self.tokenizer = engine.tokenizer
        self.lock = engine.encoder.lock
        self.max_new_tokens = job.params.max_new_tokens
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
        if self.n_generated >= self.max_new_tokens:
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
