"""The evaluation loop: samples -> prompts -> backend (cached, resumable) -> verdicts.

Every answered sample is appended to ``samples/<benchmark>.jsonl`` (fsynced) the moment
its batch returns, and successful responses go to the response cache in the same step.
A run killed at any point therefore resumes by running the same command again: samples
already recorded are skipped, a torn last line is discarded, and the metrics are computed
from the records alone, so they equal those of an uninterrupted run.

With an LLM judge (``cfg.judge``), each benchmark's recorded answers that are in the
judge's scope are then judged (``judge.step``).

The parts, each in its own module: ``planning`` (which samples, their prompts and cache
keys), ``batches`` (the batch loop through the cache and the backend), ``records`` (the
per-sample line and the counters), ``resume`` (the run directory across runs),
``manifest`` and ``report`` (what is written at the end).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lingshu.core.io import JsonlAppender, atomic_write_json
from lingshu.eval import manifest as manifest_mod
from lingshu.eval import rundir
from lingshu.eval.batches import BatchLoop
from lingshu.eval.benchmarks.base import get_benchmark
from lingshu.eval.cache import ResponseCache, default_cache_path
from lingshu.eval.config import EvalConfig
from lingshu.eval.metrics.aggregate import summarize
from lingshu.eval.planning import check_names, plan_requests, select_samples
from lingshu.eval.prompts.base import get_profile
from lingshu.eval.records import BenchmarkStats, emit, make_record
from lingshu.eval.resume import (
    answered_ids,
    compact_samples,
    prepare_run_dir,
    remove_if_empty_run,
)
from lingshu.inference import Backend, Response, get_backend

__all__ = [
    "BenchmarkStats",
    "Evaluator",
    "RunResult",
    "check_names",
    "compact_samples",
    "prepare_run_dir",
    "run_eval",
    "select_samples",
]


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    stats: dict[str, BenchmarkStats] = field(default_factory=dict)


class Evaluator:
    """Runs one ``EvalConfig`` into one run directory."""

    def __init__(
        self,
        cfg: EvalConfig,
        run_dir: Path,
        *,
        backend: Backend | None = None,
        progress: bool = True,
        overwrite: bool = False,
        on_record: Callable[[dict], None] | None = None,
        judge_backend: Backend | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.profile = get_profile(cfg.profile)
        self._backend = backend
        self._fp: dict[str, Any] | None = None
        self.progress = progress
        self.overwrite = overwrite
        self.on_record = on_record
        self.cache = (
            ResponseCache(cfg.cache_path or default_cache_path()) if cfg.use_cache else None
        )
        self.judge: Any = None  # judge.step.JudgeStep, with a judge configured
        if cfg.judge is not None:
            from lingshu.eval.judge.step import JudgeStep

            self.judge = JudgeStep(
                cfg.judge, cfg.profile, cache_path=cfg.cache_path, use_cache=cfg.use_cache,
                backend=judge_backend, progress=progress,
            )  # fmt: skip

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = get_backend(self.cfg.backend, **self.cfg.backend_options)
        return self._backend

    def run(self) -> RunResult:
        cfg = self.cfg
        # Unknown benchmark, profile or backend options fail before any data is read.
        # Building a backend is cheap (weights load on the first generate).
        benches = [get_benchmark(name).for_profile(cfg.profile) for name in cfg.benchmarks]
        backend = self.backend
        created = [p for p in (self.run_dir, *self.run_dir.parents) if not p.exists()]
        prepare_run_dir(self.run_dir, cfg, overwrite=self.overwrite)
        started = time.time()
        stats: dict[str, BenchmarkStats] = {}
        data_manifest: dict[str, Any] = {}
        try:
            for bench in benches:
                stats[bench.name] = self._run_benchmark(bench)
                path = rundir.samples_path(self.run_dir, bench.name)
                if self.judge is not None:
                    self.judge.judge_file(bench.name, path, stats[bench.name])
                compact_samples(path)
                data_manifest[bench.name] = manifest_mod.data_files(bench.data_root(Path(cfg.data_dir)))
        except BaseException:
            if created:  # never delete from a folder this run did not make
                remove_if_empty_run(self.run_dir, created)
            raise
        finally:
            if self.cache is not None:
                self.cache.close()
            if self.judge is not None:
                self.judge.close()
            backend.close()
        return self._write_results(stats, data_manifest, time.time() - started)

    def _write_results(
        self, stats: dict[str, BenchmarkStats], data: dict[str, Any], wall_s: float
    ) -> RunResult:
        """metrics.json from the records alone, manifest.json, summary.md and plots."""
        metrics = summarize(rundir.load_records(self.run_dir), **self.cfg.summarize_options())
        atomic_write_json(self.run_dir / rundir.METRICS, metrics)
        judge = self.judge.manifest(stats) if self.judge is not None else None
        atomic_write_json(
            self.run_dir / rundir.MANIFEST,
            manifest_mod.run_manifest_for_eval(
                model=self._fingerprint(), data=data, wall_s=wall_s, stats=stats, judge=judge
            ),
        )
        from lingshu.eval.report import write_summary

        write_summary(self.run_dir, self.cfg, metrics)
        return RunResult(self.run_dir, metrics, stats)

    def _fingerprint(self) -> dict[str, Any]:
        if self._fp is None:
            self._fp = self.backend.fingerprint()
        return self._fp

    def _run_benchmark(self, bench: Any) -> BenchmarkStats:
        """Load, skip what is recorded, record refused samples, answer the rest."""
        cfg = self.cfg
        st = BenchmarkStats()
        t0 = time.time()
        selected = select_samples(
            bench.load(Path(cfg.data_dir), cfg.split_for(bench.name)), cfg, bench.name
        )
        st.load_s = time.time() - t0
        st.samples = len(selected)
        path = rundir.samples_path(self.run_dir, bench.name)
        done = answered_ids(path)
        todo = [(i, s) for i, s in selected if s.id not in done]
        st.resumed = len(selected) - len(todo)
        # Samples the loader refused (an image path outside the benchmark folder) are
        # recorded as errors here and never reach the backend or the cache.
        refused = [(i, s) for i, s in todo if s.refused]
        todo = [(i, s) for i, s in todo if not s.refused]
        if refused:
            with JsonlAppender(path) as out:
                records = [
                    make_record(bench.name, i, s, self.profile.build_messages(s),
                                Response(error=f"refused: {s.refused}"), self.profile, False)
                    for i, s in refused
                ]  # fmt: skip
                emit(out, records, st, self.on_record)
        if not todo:
            return st
        generation = cfg.generation_for(bench)
        planned = plan_requests(bench, todo, self.profile, self._fingerprint(), generation)
        bar = tqdm(total=len(selected), initial=st.resumed + len(refused), desc=bench.name,
                   unit="q", disable=not self.progress, dynamic_ncols=True)  # fmt: skip
        loop = BatchLoop(self.backend, cfg.backend, self.profile, self.cache,
                         cfg.chunk_size, cfg.fail_fast, self.on_record)  # fmt: skip
        with JsonlAppender(path) as out:
            loop.run(bench.name, planned, generation, out, st, bar)
        bar.close()
        return st


def run_eval(cfg: EvalConfig, run_dir: Path, **kwargs: Any) -> RunResult:
    """Evaluate ``cfg`` into ``run_dir`` (resuming what is there); see ``Evaluator``."""
    return Evaluator(cfg, run_dir, **kwargs).run()
