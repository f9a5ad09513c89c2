"""The batch loop of one benchmark: cached answers first, then the misses in chunks.

Each chunk's answers are appended to the run's per-sample file and put in the response
cache the moment the backend returns them, so a kill loses at most one chunk. Sorting the
requests of a chunk by prompt length is the backend's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from lingshu.core.errors import UserError
from lingshu.core.io import JsonlAppender
from lingshu.eval.cache import ResponseCache
from lingshu.eval.planning import Planned
from lingshu.eval.prompts.base import Profile
from lingshu.eval.records import BenchmarkStats, emit, make_record
from lingshu.inference import Backend, GenerationParams, Request


@dataclass
class BatchLoop:
    """Answers planned requests of one benchmark into its per-sample file."""

    backend: Backend
    backend_name: str
    profile: Profile
    cache: ResponseCache | None
    chunk_size: int | None = None  # default: the backend's batch size x 4
    fail_fast: bool = False
    on_record: Callable[[dict], None] | None = None

    def run(
        self,
        benchmark: str,
        planned: list[Planned],
        generation: GenerationParams,
        out: JsonlAppender,
        st: BenchmarkStats,
        bar: tqdm,
    ) -> None:
        misses = self._from_cache(benchmark, planned, out, st, bar)
        chunk = self.chunk_size or max(1, self.backend.preferred_batch_size() * 4)
        for start in range(0, len(misses), chunk):
            part = misses[start : start + chunk]
            t1 = time.time()
            responses = self.backend.generate(
                [Request(id=p.sample.id, messages=p.messages) for p in part], generation
            )
            st.generate_s += time.time() - t1
            if len(responses) != len(part):
                raise RuntimeError(
                    f"backend {self.backend_name} returned {len(responses)} responses for "
                    f"{len(part)} requests"
                )
            if self.cache is not None:
                self.cache.put_many((p.key, r) for p, r in zip(part, responses, strict=True))
            records = [
                make_record(benchmark, p.index, p.sample, p.messages, r, self.profile, False)
                for p, r in zip(part, responses, strict=True)
            ]
            emit(out, records, st, self.on_record)
            st.generated += len(records)
            bar.update(len(records))
            failed = [r for r in records if r["error"] is not None]
            if failed and self.fail_fast:
                raise UserError(
                    f"{benchmark}: sample {failed[0]['sample_id']} failed: "
                    f"{failed[0]['error']} (--fail-fast)"
                )

    def _from_cache(
        self,
        benchmark: str,
        planned: list[Planned],
        out: JsonlAppender,
        st: BenchmarkStats,
        bar: tqdm,
    ) -> list[Planned]:
        """Record the cached answers; return the requests still to generate."""
        if self.cache is None:
            return planned
        hits = self.cache.get_many(p.key for p in planned)
        records = [
            make_record(benchmark, p.index, p.sample, p.messages, hits[p.key], self.profile, True)
            for p in planned
            if p.key in hits
        ]
        emit(out, records, st, self.on_record)
        st.cache_hits = len(records)
        bar.update(len(records))
        return [p for p in planned if p.key not in hits]
