"""One answered sample as the line written to ``samples/<benchmark>.jsonl``, and the
per-benchmark counters a run keeps while writing them (they go to ``manifest.json``).

A record holds everything needed to recompute the metrics without the model: the sample,
the exact prompt, the response (or its error) and the profile's verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lingshu.core.io import JsonlAppender
from lingshu.eval.prompts.base import Profile
from lingshu.eval.types import Sample
from lingshu.inference import Response


@dataclass
class BenchmarkStats:
    samples: int = 0
    resumed: int = 0
    cache_hits: int = 0
    generated: int = 0
    errors: int = 0
    load_s: float = 0.0
    generate_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge_asked: int = 0  # records handed to the judge in this run
    judge_cache_hits: int = 0
    judge_requests: int = 0  # items sent over HTTP
    judge_errors: int = 0
    judge_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def make_record(
    benchmark: str,
    index: int,
    sample: Sample,
    messages: list,
    response: Response,
    profile: Profile,
    cached: bool,
) -> dict[str, Any]:
    """The record of one sample; an errored response is recorded unscored (never wrong)."""
    rec: dict[str, Any] = {
        "benchmark": benchmark,
        "sample_id": sample.id,
        "index": index,
        "question": sample.question,
        "options": sample.options,
        "images": list(sample.images),
        "gold": sample.answer,
        "task": sample.task,
        "answer_type": sample.answer_type,
        "categories": profile.categories(sample),
        "prompt": messages,
        "response": response.text,
        "error": response.error,
        "usage": {
            "prompt_tokens": response.prompt_tokens,
            "completion_tokens": response.completion_tokens,
        },
        "cached": cached,
    }
    if response.error is None:
        verdict = profile.score(sample, response.text)
        rec.update(
            extracted=verdict.extracted,
            correct=bool(verdict.correct),
            invalid=bool(verdict.invalid),
            scores=verdict.scores,
            method=verdict.method,
        )
    else:
        rec.update(extracted=None, correct=None, invalid=None, scores={}, method="error")
    return rec


def emit(
    out: JsonlAppender,
    records: list[dict],
    st: BenchmarkStats,
    on_record: Callable[[dict], None] | None = None,
) -> None:
    """Append ``records`` (fsynced by the appender) and count them."""
    out.write_many(records)
    for r in records:
        st.errors += r["error"] is not None
        st.prompt_tokens += r["usage"]["prompt_tokens"]
        st.completion_tokens += r["usage"]["completion_tokens"]
        if on_record is not None:
            on_record(r)
