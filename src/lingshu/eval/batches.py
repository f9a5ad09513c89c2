"""The batch loop of one benchmark: cached answers first, then the misses in chunks
(``lingshu.inference.cached_calls``, the cache-then-ask loop shared with the judge and
curation).

Each chunk's answers are appended to the run's per-sample file and put in the response
cache the moment the backend returns them, so a kill loses at most one chunk. Sorting the
requests of a chunk by prompt length is the backend's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from lingshu.core.errors import UserError
from lingshu.core.io import JsonlAppender
from lingshu.eval.cache import ResponseCache
from lingshu.eval.planning import Planned
from lingshu.eval.prompts.base import Profile
from lingshu.eval.records import BenchmarkStats, emit, make_record
from lingshu.inference import Backend, GenerationParams, Request, cached_calls


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
        for batch in cached_calls(
            self.backend.generate,
            [Request(id=p.sample.id, messages=p.messages) for p in planned],
            [p.key for p in planned],
            generation,
            store=self.cache,
            chunk_size=self.chunk_size or max(1, self.backend.preferred_batch_size() * 4),
            who=f"backend {self.backend_name}",
        ):
            records = [
                make_record(benchmark, planned[i].index, planned[i].sample, planned[i].messages,
                            r, self.profile, batch.cached)
                for positions, r in batch.groups
                for i in positions
            ]  # fmt: skip
            emit(out, records, st, self.on_record)
            bar.update(len(records))
            if batch.cached:
                st.cache_hits = len(records)
                continue
            st.generate_s += batch.seconds
            st.generated += len(records)
            failed = [r for r in records if r["error"] is not None]
            if failed and self.fail_fast:
                raise UserError(
                    f"{benchmark}: sample {failed[0]['sample_id']} failed: "
                    f"{failed[0]['error']} (--fail-fast)"
                )
