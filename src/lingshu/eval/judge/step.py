"""The judge step of a run: after a benchmark's answers are recorded, judge the ones in
the judge's scope that have no verdict yet, chunk by chunk, appending a newer record with
the verdict per sample (``records``). A resumed run judges only what is left; the judge
cache makes judging again free. The judge (and its HTTP client) is built only when
something needs judging.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lingshu.core.io import JsonlAppender, read_jsonl
from lingshu.eval.cache import default_cache_path
from lingshu.eval.judge.config import JudgeConfig
from lingshu.eval.metrics.aggregate import latest_records
from lingshu.inference import Backend

log = logging.getLogger(__name__)


@dataclass
class JudgeStep:
    """Judging for one run: ``judge_file`` per benchmark, ``manifest`` at the end."""

    cfg: JudgeConfig
    profile: str
    cache_path: Path | None = None
    use_cache: bool = True
    backend: Backend | None = None  # tests inject a fake; default: the openai backend
    progress: bool = True
    _judge: Any = field(default=None, init=False, repr=False)  # lingshu.eval.judge.Judge

    def _get_judge(self) -> Any:
        if self._judge is None:
            from lingshu.eval.judge.cache import JudgeCache
            from lingshu.eval.judge.judge import Judge

            cache = JudgeCache(self.cache_path or default_cache_path()) if self.use_cache else None
            self._judge = Judge(self.cfg, cache=cache, backend=self.backend)
        return self._judge

    def judge_file(self, benchmark: str, path: Path, st: Any) -> None:
        """Judge the recorded answers of ``path`` in scope that have no verdict yet;
        ``st`` (a ``BenchmarkStats``) counts what was asked, cached, sent and failed."""
        from lingshu.eval.judge.records import needs_judgement, with_judgement
        from lingshu.eval.judge.scope import judge_item

        scope = self.cfg.scope
        assert scope is not None
        todo = [r for r in latest_records(read_jsonl(path)) if needs_judgement(r, scope)]
        if not todo:
            return
        judge = self._get_judge()
        items = [judge_item(self.profile, r) for r in todo]
        chunk = max(1, self.cfg.concurrency * 4)
        bar = tqdm(total=len(todo), desc=f"{benchmark} judge", unit="q",
                   disable=not self.progress, dynamic_ncols=True)  # fmt: skip
        t0, requests0 = time.time(), judge.n_requests
        with JsonlAppender(path) as out:
            for start in range(0, len(todo), chunk):
                part = todo[start : start + chunk]
                results = judge.judge_many(items[start : start + chunk])
                out.write_many(
                    [with_judgement(r, res, self.cfg) for r, res in zip(part, results, strict=True)]
                )
                st.judge_asked += len(part)
                st.judge_cache_hits += sum(res.cached for res in results)
                st.judge_errors += sum(res.error is not None for res in results)
                bar.update(len(part))
        bar.close()
        st.judge_requests += judge.n_requests - requests0
        st.judge_s += time.time() - t0
        if st.judge_errors:
            log.warning(
                "%s: %d judge errors (excluded from accuracy; rerun to retry failed requests)",
                benchmark,
                st.judge_errors,
            )

    def manifest(self, stats: dict[str, Any]) -> dict[str, Any]:
        """The judge's identity (never its API key) and what it cost in this run."""
        return {
            **self.cfg.identity(),
            "api_key_set": self.cfg.api_key_set,
            "asked": sum(s.judge_asked for s in stats.values()),
            "requests": sum(s.judge_requests for s in stats.values()),
            "cache_hits": sum(s.judge_cache_hits for s in stats.values()),
            "errors": sum(s.judge_errors for s in stats.values()),
        }

    def close(self) -> None:
        if self._judge is not None:
            self._judge.close()
            if self._judge.cache is not None:
                self._judge.cache.close()
