"""The evaluation loop: samples -> prompts -> backend (cached, resumable) -> verdicts.

Every answered sample is appended to ``samples/<benchmark>.jsonl`` (fsynced) the moment
its batch returns, and successful responses go to the response cache in the same step.
A run killed at any point therefore resumes by running the same command again: samples
already recorded are skipped, a torn last line is discarded, and the metrics are computed
from the records alone, so they equal those of an uninterrupted run.

With an LLM judge (``cfg.judge``), each benchmark's recorded answers that are in the
judge's scope are then judged, chunk by chunk, and a newer record carrying the verdict is
appended per sample (``lingshu.eval.judge.records``); a resumed run judges only what has
no verdict yet, and the judge cache makes judging again free.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lingshu.core.errors import UserError
from lingshu.core.io import JsonlAppender, atomic_write_json, atomic_write_text, read_jsonl
from lingshu.eval import manifest as manifest_mod
from lingshu.eval import rundir
from lingshu.eval.benchmarks.base import get_benchmark
from lingshu.eval.cache import ResponseCache, cache_key, default_cache_path
from lingshu.eval.config import EvalConfig
from lingshu.eval.metrics.aggregate import latest_records, summarize
from lingshu.eval.prompts.base import Profile, get_profile
from lingshu.eval.types import Sample
from lingshu.inference import Backend, Request, Response, cached_calls, get_backend

log = logging.getLogger(__name__)


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


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    stats: dict[str, BenchmarkStats] = field(default_factory=dict)


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
    for metric in cfg.report_metrics or []:
        REPORT_METRICS.get(metric)
    if isinstance(cfg.split, dict):
        for name in cfg.split:
            if name not in cfg.benchmarks:
                raise UserError(
                    f"split given for {name!r}, which this run does not evaluate "
                    f"(benchmarks: {', '.join(cfg.benchmarks)})"
                )


def _check_writable_dir(run_dir: Path) -> None:
    """``-o`` naming a file, or a place that cannot be written, as one line."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--output-dir {run_dir}: is a file, not a directory; choose a folder")
    existing = next((p for p in (run_dir, *run_dir.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"--output-dir {run_dir}: {existing} is a file, not a directory")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"--output-dir {run_dir}: {existing} is not writable; choose a folder you can write"
        )


def prepare_run_dir(run_dir: Path, cfg: EvalConfig, overwrite: bool = False) -> None:
    """Create the run directory, or check that an existing one holds the same run."""
    run_dir = Path(run_dir)
    _check_writable_dir(run_dir)
    cfg_path = run_dir / rundir.CONFIG
    if cfg_path.exists() and not overwrite:
        old = rundir.load_config(run_dir)
        if old.identity_hash() != cfg.identity_hash():
            a, b = old.identity(), cfg.identity()
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise UserError(
                f"{run_dir} holds a run with a different configuration ({', '.join(diff)} "
                "differ); choose another --output-dir, or pass --overwrite to replace it"
            )
        log.info("resuming run in %s", run_dir)
    elif overwrite and run_dir.exists():
        from lingshu.eval.plots import CSV_NAME, PLOTS_DIR

        for f in (rundir.CONFIG, rundir.METRICS, rundir.SUMMARY, rundir.MANIFEST, CSV_NAME):
            (run_dir / f).unlink(missing_ok=True)
        for f in (run_dir / PLOTS_DIR).glob("*.png"):
            f.unlink()
        for f in (run_dir / rundir.SAMPLES_DIR).glob("*.jsonl"):
            f.unlink()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cfg_path, cfg.model_dump(mode="json"))
    except OSError as e:
        raise UserError(
            f"--output-dir {run_dir}: cannot write there ({e.strerror}); choose another folder"
        ) from None


def _remove_if_empty_run(run_dir: Path, created: list[Path]) -> None:
    """After a failed run: delete the folders this run created if no sample was recorded,
    so that a mistake (missing data, a bad option) leaves nothing half-made behind. A run
    with recorded samples stays: rerunning the command resumes it."""
    samples = run_dir / rundir.SAMPLES_DIR
    if any(f.stat().st_size > 0 for f in samples.glob("*.jsonl")):
        return
    for f in (rundir.CONFIG, rundir.METRICS, rundir.SUMMARY, rundir.MANIFEST):
        (run_dir / f).unlink(missing_ok=True)
    for f in samples.glob("*.jsonl"):
        f.unlink()
    for d in (samples, *created):  # deepest first; a folder holding anything else stays
        try:
            d.rmdir()
        except OSError:
            pass


def compact_samples(path: Path) -> None:
    """Rewrite ``samples/<bench>.jsonl`` with one line per sample (the latest), atomically.

    Retried errors and judge verdicts are appended as newer records while a run goes on
    (appending is what makes a kill harmless); once a benchmark is done its file is
    compacted, so the finished run holds exactly one line per sample, as documented.
    """
    records = list(read_jsonl(path))
    latest: dict[str, dict] = {}
    for r in records:
        latest.pop(r["sample_id"], None)  # keep file order of the newest record
        latest[r["sample_id"]] = r
    if len(latest) == len(records):
        return
    kept = sorted(latest.values(), key=lambda r: r.get("index", 0))
    atomic_write_text(
        path,
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in kept),
    )


def _make_record(
    bench: Any,
    index: int,
    sample: Sample,
    messages: list,
    response: Response,
    profile: Profile,
    cached: bool,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "benchmark": bench.name,
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
        self._judge: Any = None  # lingshu.eval.judge.Judge, built when something needs judging
        self._judge_backend = judge_backend  # tests inject a fake; default: the openai backend

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
                if cfg.judge is not None:
                    self._judge_benchmark(bench, stats[bench.name])
                compact_samples(rundir.samples_path(self.run_dir, bench.name))
                data_manifest[bench.name] = manifest_mod.data_files(bench.data_root(Path(cfg.data_dir)))
        except BaseException:
            if created:  # never delete from a folder this run did not make
                _remove_if_empty_run(self.run_dir, created)
            raise
        finally:
            if self.cache is not None:
                self.cache.close()
            if self._judge is not None:
                self._judge.close()
                if self._judge.cache is not None:
                    self._judge.cache.close()
            backend.close()
        metrics = summarize(rundir.load_records(self.run_dir), **cfg.summarize_options())
        atomic_write_json(self.run_dir / rundir.METRICS, metrics)
        atomic_write_json(
            self.run_dir / rundir.MANIFEST,
            {
                "lingshu_run": 1,
                "packages": manifest_mod.package_versions(),
                "git_commit": manifest_mod.git_commit(),
                "hardware": manifest_mod.hardware(),
                "model": self._fingerprint(),
                "data": data_manifest,
                "timings": {
                    "wall_s": time.time() - started,
                    "benchmarks": {k: v.to_dict() for k, v in stats.items()},
                },
                "tokens": {
                    "prompt": sum(s.prompt_tokens for s in stats.values()),
                    "completion": sum(s.completion_tokens for s in stats.values()),
                },
                **({"judge": self._judge_manifest(stats)} if cfg.judge is not None else {}),
            },
        )
        from lingshu.eval.report import write_summary

        write_summary(self.run_dir, cfg, metrics)
        return RunResult(self.run_dir, metrics, stats)

    def _fingerprint(self) -> dict[str, Any]:
        if self._fp is None:
            self._fp = self.backend.fingerprint()
        return self._fp

    def _run_benchmark(self, bench: Any) -> BenchmarkStats:
        cfg = self.cfg
        st = BenchmarkStats()
        t0 = time.time()
        selected = select_samples(
            bench.load(Path(cfg.data_dir), cfg.split_for(bench.name)), cfg, bench.name
        )
        st.load_s = time.time() - t0
        st.samples = len(selected)
        path = rundir.samples_path(self.run_dir, bench.name)
        done = {
            r["sample_id"] for r in read_jsonl(path) if r.get("error") is None
        }  # errors are retried
        todo = [(i, s) for i, s in selected if s.id not in done]
        st.resumed = len(selected) - len(todo)
        # Samples the loader refused (an image path outside the benchmark folder) are
        # recorded as errors here and never reach the backend or the cache.
        refused = [(i, s) for i, s in todo if s.refused]
        todo = [(i, s) for i, s in todo if not s.refused]
        if refused:
            with JsonlAppender(path) as out:
                records = [
                    _make_record(
                        bench, i, s, self.profile.build_messages(s),
                        Response(error=f"refused: {s.refused}"), self.profile, cached=False,
                    )
                    for i, s in refused
                ]  # fmt: skip
                self._emit(out, records, st)
        if not todo:
            return st
        fingerprint = self._fingerprint()
        gen = cfg.generation.to_dict()
        items = []
        for i, s in todo:
            messages = self.profile.build_messages(s)
            key = cache_key(
                fingerprint=fingerprint,
                benchmark=bench.name,
                benchmark_version=bench.version,
                profile=self.profile.name,
                profile_version=self.profile.version,
                messages=messages,
                generation=gen,
                sample_id=s.id,
            )
            items.append((i, s, messages, key))
        bar = tqdm(
            total=len(selected),
            initial=st.resumed + len(refused),
            desc=bench.name,
            unit="q",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        with JsonlAppender(path) as out:
            # Longest prompts first inside each chunk is the backend's business (it sorts by
            # length); chunks keep results flowing to disk so a kill loses at most one chunk.
            for batch in cached_calls(
                self.backend.generate,
                [Request(id=s.id, messages=m) for _, s, m, _ in items],
                [k for *_, k in items],
                cfg.generation,
                store=self.cache,
                chunk_size=cfg.chunk_size or max(1, self.backend.preferred_batch_size() * 4),
                who=f"backend {cfg.backend}",
            ):
                records = [
                    _make_record(bench, *items[p][:3], r, self.profile, cached=batch.cached)
                    for positions, r in batch.groups
                    for p in positions
                ]
                self._emit(out, records, st)
                bar.update(len(records))
                if batch.cached:
                    st.cache_hits = len(records)
                    continue
                st.generate_s += batch.seconds
                st.generated += len(records)
                failed = [r for r in records if r["error"] is not None]
                if failed and cfg.fail_fast:
                    raise UserError(
                        f"{bench.name}: sample {failed[0]['sample_id']} failed: "
                        f"{failed[0]['error']} (--fail-fast)"
                    )
        bar.close()
        return st

    def _judge_manifest(self, stats: dict[str, BenchmarkStats]) -> dict[str, Any]:
        """The judge's identity (never its API key) and what it cost in this run."""
        assert self.cfg.judge is not None
        return {
            **self.cfg.judge.identity(),
            "api_key_set": self.cfg.judge.api_key_set,
            "asked": sum(s.judge_asked for s in stats.values()),
            "requests": sum(s.judge_requests for s in stats.values()),
            "cache_hits": sum(s.judge_cache_hits for s in stats.values()),
            "errors": sum(s.judge_errors for s in stats.values()),
        }

    def _get_judge(self) -> Any:
        if self._judge is None:
            from lingshu.eval.judge import Judge, JudgeCache

            assert self.cfg.judge is not None
            cache = (
                JudgeCache(self.cfg.cache_path or default_cache_path())
                if self.cfg.use_cache
                else None
            )
            self._judge = Judge(self.cfg.judge, cache=cache, backend=self._judge_backend)
        return self._judge

    def _judge_benchmark(self, bench: Any, st: BenchmarkStats) -> None:
        """Judge the recorded answers in scope that have no verdict yet (see module doc)."""
        from lingshu.eval.judge import judge_item, needs_judgement, with_judgement

        jcfg = self.cfg.judge
        assert jcfg is not None and jcfg.scope is not None
        path = rundir.samples_path(self.run_dir, bench.name)
        todo = [r for r in latest_records(read_jsonl(path)) if needs_judgement(r, jcfg.scope)]
        if not todo:
            return
        judge = self._get_judge()
        items = [judge_item(self.cfg.profile, r) for r in todo]
        chunk = max(1, jcfg.concurrency * 4)
        bar = tqdm(
            total=len(todo),
            desc=f"{bench.name} judge",
            unit="q",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        t0, requests0 = time.time(), judge.n_requests
        with JsonlAppender(path) as out:
            for start in range(0, len(todo), chunk):
                part = todo[start : start + chunk]
                results = judge.judge_many(items[start : start + chunk])
                out.write_many(
                    [with_judgement(r, res, jcfg) for r, res in zip(part, results, strict=True)]
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
                bench.name,
                st.judge_errors,
            )

    def _emit(self, out: JsonlAppender, records: list[dict], st: BenchmarkStats) -> None:
        out.write_many(records)
        for r in records:
            st.errors += r["error"] is not None
            st.prompt_tokens += r["usage"]["prompt_tokens"]
            st.completion_tokens += r["usage"]["completion_tokens"]
            if self.on_record is not None:
                self.on_record(r)


def run_eval(cfg: EvalConfig, run_dir: Path, **kwargs: Any) -> RunResult:
    return Evaluator(cfg, run_dir, **kwargs).run()
