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
from lingshu.inference import Backend, GenerationParams, Request, get_backend

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
        """One result per item, in order."""
        results: list[JudgeResult | None] = [None] * len(items)
        keys: dict[int, str] = {}
        for i, item in enumerate(items):
            if item.response.strip():
                keys[i] = self.key(item)
            else:
                results[i] = JudgeResult(verdict=False, rationale=EMPTY_ANSWER_RATIONALE)
        hits = self.cache.get_many(keys.values()) if self.cache is not None and keys else {}
        to_ask: dict[str, list[int]] = {}  # identical items are asked once
        for i, key in keys.items():
            if key in hits:
                results[i] = _result(hits[key], cached=True)
                self.n_cache_hits += 1
            else:
                to_ask.setdefault(key, []).append(i)
        if to_ask:
            self._ask(items, to_ask, results)
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _ask(
        self,
        items: Sequence[JudgeItem],
        to_ask: dict[str, list[int]],
        results: list[JudgeResult | None],
    ) -> None:
        if self._failed_in_a_row >= self.config.give_up_after:
            reason = (
                f"judge not asked: its last {self._failed_in_a_row} requests failed (last: "
                f"{self._last_failure}); rerun when the judge endpoint is back"
            )
            for idx in to_ask.values():
                for i in idx:
                    results[i] = JudgeResult(verdict=None, error=reason)
            return
        keys = list(to_ask)
        requests = [
            Request(id=str(to_ask[k][0]), messages=self.prompt.messages(items[to_ask[k][0]]))
            for k in keys
        ]
        responses = self.backend.generate(requests, self.params())
        if len(responses) != len(requests):
            raise RuntimeError(
                f"judge backend returned {len(responses)} answers for {len(requests)} requests"
            )
        self.n_requests += len(requests)
        fresh: list[tuple[str, str]] = []
        for key, resp in zip(keys, responses, strict=True):
            if resp.error is not None:
                self._failed_in_a_row += 1
                self._last_failure = resp.error
                result = JudgeResult(verdict=None, error=f"judge request failed: {resp.error}")
            else:
                self._failed_in_a_row = 0
                fresh.append((key, resp.text))
                result = _result(resp.text, cached=False)
            for i in to_ask[key]:
                results[i] = result
        if self.cache is not None:
            self.cache.put_many(fresh)

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
