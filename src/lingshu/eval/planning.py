"""Planning a benchmark's requests before anything is generated: which samples this run
evaluates (``limit``, ``shard``), which names are valid, and the prompt and cache key of
each sample still to answer.

The cache key holds everything that changes an answer (the model's fingerprint, the
benchmark and profile versions, the exact messages, the generation settings, the sample
id), so a cached answer is reused only for the very same request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lingshu.core.hashing import FileDigests
from lingshu.core.errors import UserError
from lingshu.eval.benchmarks.base import get_benchmark
from lingshu.eval.cache import cache_key
from lingshu.eval.config import EvalConfig
from lingshu.eval.prompts.base import Profile, get_profile
from lingshu.eval.types import Message, Sample
from lingshu.inference import GenerationParams


@dataclass(frozen=True)
class Planned:
    """One sample to answer: its index in the benchmark, the messages and the cache key."""

    index: int
    sample: Sample
    messages: list[Message]
    key: str


def select_samples(
    samples: list[Sample], cfg: EvalConfig, benchmark: str
) -> list[tuple[int, Sample]]:
    """Apply ``limit`` then ``shard``; keep each sample's index in the full list so that
    merged shards are ordered exactly as a single run."""
    indexed = list(enumerate(samples))
    limit = cfg.limit_for(benchmark)
    if limit is not None:
        indexed = indexed[:limit]
    if cfg.shard is not None:
        indexed = indexed[cfg.shard.index :: cfg.shard.count]
    return indexed


def check_names(cfg: EvalConfig) -> None:
    """Unknown benchmark, profile or backend names and bad backend options, as one line
    (with a "did you mean"), before anything is written."""
    from lingshu.inference import parse_backend_config

    from lingshu.eval.metrics.reports import REPORT_METRICS

    for name in cfg.benchmarks:
        get_benchmark(name)
    get_profile(cfg.profile)
    parse_backend_config(cfg.backend, cfg.backend_options)
    for metric in cfg.report_metrics or []:  # a typo would silently skip a metric
        REPORT_METRICS.get(metric)
    if isinstance(cfg.split, dict):
        for name in cfg.split:
            if name not in cfg.benchmarks:
                raise UserError(
                    f"split given for {name!r}, which this run does not evaluate "
                    f"(benchmarks: {', '.join(cfg.benchmarks)})"
                )


def plan_requests(
    bench: Any,
    todo: list[tuple[int, Sample]],
    profile: Profile,
    fingerprint: dict[str, Any],
    generation: GenerationParams,
) -> list[Planned]:
    """The messages and response-cache key of every sample in ``todo``."""
    gen = generation.to_dict()
    digests = FileDigests()  # an image shown by many samples is hashed once
    planned = []
    for i, s in todo:
        messages = profile.build_messages(s)
        key = cache_key(
            fingerprint=fingerprint,
            benchmark=bench.name,
            benchmark_version=bench.version,
            profile=profile.name,
            profile_version=profile.version,
            messages=messages,
            generation=gen,
            sample_id=s.id,
            digests=digests,
        )
        planned.append(Planned(i, s, messages, key))
    return planned
