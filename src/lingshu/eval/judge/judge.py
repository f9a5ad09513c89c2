"""The LLM judge: items in, one ``JudgeResult`` per item out, never an exception per item.

HTTP goes through the ``openai`` backend (any OpenAI-compatible endpoint: a hosted API or
a local ``vllm serve`` / ``lingshu serve``), which brings bounded concurrency, timeouts and
retries with capped exponential backoff. Decoding is greedy (temperature 0) so a verdict is
reproducible and cacheable.

Per item, in order:
- an empty answer is not sent: verdict incorrect (nothing to judge), rationale says so;
- a cached judge answer is parsed (``cached=True``);
- otherwise the judge is asked; its answer is cached and parsed. A request that still fails
  after the retries is a judge error (``raw`` None, retried by the next run); an answer
  without a readable verdict is a judge error too (``raw`` kept, not re-asked: with greedy
  decoding the same prompt gets the same answer);
- after ``give_up_after`` failed requests in a row (the endpoint is down) the remaining
  items are not sent: they become judge errors saying why, so a run whose judge died still
  finishes in seconds, and a rerun fills them in.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lingshu.eval.judge.cache import JudgeCache, judge_cache_key
from lingshu.eval.judge.config import JudgeConfig
from lingshu.eval.judge.parse import parse_judgement
from lingshu.eval.judge.prompt import JudgeItem, get_judge_prompt
from lingshu.inference import (
    Backend,
    GenerationParams,
    Request,
    Response,
    TextResponses,
    cached_calls,
    get_backend,
)

log = logging.getLogger(__name__)

JUDGE_KEY_ENV = "LINGSHU_JUDGE_API_KEY"
EMPTY_ANSWER_RATIONALE = "not sent to the judge: the answer is empty"


@dataclass(frozen=True)
class JudgeResult:
    """The judge's decision on one item.

    ``verdict``: True = correct, False = incorrect, None = no verdict (then ``error`` says
    why). ``raw`` is the judge's answer text (None when none arrived). ``cached``: the answer
    came from the judge cache.
    """

    verdict: bool | None
    rationale: str | None = None
    error: str | None = None
    cached: bool = False
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Judge:
    """Decides items with one judge model; counts what it asked and what it reused."""

    def __init__(
        self,
        config: JudgeConfig,
        *,
        cache: JudgeCache | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.config = config
        self.prompt = get_judge_prompt(config.prompt_version)
        self.cache = cache
        self._backend = backend
        self.n_requests = 0  # items sent over HTTP (each one or more attempts)
        self.n_cache_hits = 0
        self._failed_in_a_row = 0
        self._last_failure: str | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            c = self.config
            key = c.key() or os.environ.get(JUDGE_KEY_ENV) or None
            if c.api_key_set and key is None:
                log.warning(
                    "this run's judge was configured with an API key, which is never saved; "
                    "pass --judge-api-key or set %s (falling back to LINGSHU_API_KEY / "
                    "OPENAI_API_KEY)", JUDGE_KEY_ENV,
                )
            self._backend = get_backend(
                "openai",
                model=c.model,
                base_url=c.base_url,
                api_key=key,
                concurrency=c.concurrency,
                timeout_s=c.timeout_s,
                max_retries=c.max_retries,
                backoff_s=c.backoff_s,
                backoff_max_s=c.backoff_max_s,
                batch_size=c.concurrency,
            )
        return self._backend

    def params(self) -> GenerationParams:
        return GenerationParams(max_new_tokens=self.config.max_tokens, temperature=0.0, top_p=1.0)

    def key(self, item: JudgeItem) -> str:
        c = self.config
        return judge_cache_key(
            model=c.model,
            base_url=c.base_url,
            prompt_version=c.prompt_version,
            max_tokens=c.max_tokens,
            question=item.question,
            gold=item.gold,
            response=item.response,
        )

    def judge_many(self, items: Sequence[JudgeItem]) -> list[JudgeResult]:
        """One result per item, in order; identical items are asked once."""
        results: list[JudgeResult | None] = [None] * len(items)
        asked = [i for i, item in enumerate(items) if item.response.strip()]
        for i in set(range(len(items))) - set(asked):
            results[i] = JudgeResult(verdict=False, rationale=EMPTY_ANSWER_RATIONALE)
        batches = cached_calls(
            lambda requests, params: self.backend.generate(requests, params),
            [Request(id=str(i), messages=self.prompt.messages(items[i])) for i in asked],
            [self.key(items[i]) for i in asked],
            self.params(),
            store=TextResponses(self.cache) if self.cache is not None else None,
            once_per_key=True,
            ask=self._failed_in_a_row < self.config.give_up_after,
            who="judge backend",
        )
        for batch in batches:
            self.n_requests += batch.asked
            for positions, resp in batch.groups:
                result = self._result(resp, cached=batch.cached)
                for p in positions:
                    results[asked[p]] = result
                if batch.cached:
                    self.n_cache_hits += len(positions)
        reason = (
            f"judge not asked: its last {self._failed_in_a_row} requests failed (last: "
            f"{self._last_failure}); rerun when the judge endpoint is back"
        )
        return [r if r is not None else JudgeResult(verdict=None, error=reason) for r in results]

    def _result(self, resp: Response, *, cached: bool) -> JudgeResult:
        """The parsed answer; a failed request counts toward giving up on the judge."""
        if resp.error is not None:
            self._failed_in_a_row += 1
            self._last_failure = resp.error
            return JudgeResult(verdict=None, error=f"judge request failed: {resp.error}")
        if not cached:
            self._failed_in_a_row = 0
        return _result(resp.text, cached=cached)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


def _result(text: str, *, cached: bool) -> JudgeResult:
    parsed = parse_judgement(text)
    return JudgeResult(
        verdict=parsed.verdict,
        rationale=parsed.rationale,
        error=parsed.error,
        cached=cached,
        raw=text,
    )
