"""The evaluation loop end to end with the deterministic dummy backend on bundled data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lingshu.core.errors import UserError
from lingshu.inference import Backend
from lingshu.eval.config import EvalConfig, Shard
from lingshu.eval.merge import merge_runs
from lingshu.eval.compare import compare_runs
from lingshu.eval.runner import run_eval
from lingshu.inference import GenerationParams, Response

BENCH = "medqa-usmle"


def cfg(data_dir, tmp_path, **kw):
    base = dict(
        benchmarks=[BENCH],
        data_dir=data_dir,
        backend="dummy",
        cache_path=tmp_path / "cache.sqlite",
        bootstrap_resamples=200,
    )
    base.update(kw)
    return EvalConfig(**base)


class CountingBackend(Backend):
    """Answers 'A' to everything and counts how many requests reached it."""

    name = "counting"

    def __init__(self, fail_ids=()):
        self.calls = 0
        self.fail_ids = set(fail_ids)

    def fingerprint(self):
        return {"name": "counting"}

    def generate(self, requests, params):
        self.calls += len(requests)
        return [
            Response(error="boom") if r.id in self.fail_ids else Response(text="A", prompt_tokens=3, completion_tokens=1)
            for r in requests
        ]


def records(run):
    return [json.loads(line) for line in (run / "samples" / f"{BENCH}.jsonl").read_text().splitlines()]


def test_run_writes_every_output(data_dir, tmp_path):
    run = tmp_path / "run"
    res = run_eval(cfg(data_dir, tmp_path), run, progress=False)
    recs = records(run)
    assert len(recs) == 100 and len({r["sample_id"] for r in recs}) == 100
    gold = [json.loads(l)["answer_idx"] for l in (data_dir / BENCH / "phrases_no_exclude_test.jsonl").read_text().splitlines()]
    assert [r["gold"] for r in sorted(recs, key=lambda r: r["index"])] == gold
    acc = sum(r["correct"] for r in recs) / 100
    assert res.metrics["benchmarks"][BENCH]["accuracy"] == pytest.approx(acc)
    for f in ("config.json", "manifest.json", "metrics.json", "summary.md"):
        assert (run / f).is_file()
    man = json.loads((run / "manifest.json").read_text())
    assert man["data"][BENCH]["sha256"]["phrases_no_exclude_test.jsonl"]
    assert man["packages"]["torch"]
    assert "accuracy % [95% CI]" in (run / "summary.md").read_text()


def test_cache_makes_rerun_free(data_dir, tmp_path):
    c = cfg(data_dir, tmp_path, limit=20)
    b1 = CountingBackend()
    m1 = run_eval(c, tmp_path / "r1", backend=b1, progress=False).metrics
    b2 = CountingBackend()
    m2 = run_eval(c, tmp_path / "r2", backend=b2, progress=False).metrics
    assert (b1.calls, b2.calls) == (20, 0)
    assert m1 == m2
    assert all(r["cached"] for r in records(tmp_path / "r2"))
    # another generation parameter is another cache key
    b3 = CountingBackend()
    run_eval(cfg(data_dir, tmp_path, limit=20, generation=GenerationParams(max_new_tokens=7)), tmp_path / "r3", backend=b3, progress=False)
    assert b3.calls == 20


def test_errors_are_recorded_excluded_and_retried(data_dir, tmp_path):
    c = cfg(data_dir, tmp_path, limit=10)
    from lingshu.eval.benchmarks import get_benchmark

    ids = [s.id for s in get_benchmark(BENCH).load(data_dir)[:10]]
    failing = CountingBackend(fail_ids=ids[:3])
    m = run_eval(c, tmp_path / "r", backend=failing, progress=False).metrics[ "benchmarks"][BENCH]
    assert (m["n"], m["n_errors"], m["n_scored"]) == (10, 3, 7)
    assert [r["error"] for r in records(tmp_path / "r")].count("boom") == 3
    # rerun: only the 3 failed samples are asked again; the final file has no duplicates once deduped
    healed = CountingBackend()
    m2 = run_eval(c, tmp_path / "r", backend=healed, progress=False).metrics["benchmarks"][BENCH]
    assert healed.calls == 3 and m2["n_errors"] == 0 and m2["n_scored"] == 10


def test_fail_fast_stops(data_dir, tmp_path):
    from lingshu.eval.benchmarks import get_benchmark

    first = get_benchmark(BENCH).load(data_dir)[0].id
    with pytest.raises(UserError, match="--fail-fast"):
        run_eval(cfg(data_dir, tmp_path, limit=5, fail_fast=True, use_cache=False), tmp_path / "r", backend=CountingBackend(fail_ids=[first]), progress=False)


def test_config_mismatch_is_refused(data_dir, tmp_path):
    run_eval(cfg(data_dir, tmp_path, limit=3), tmp_path / "r", progress=False)
    with pytest.raises(UserError, match="different configuration.*limit"):
        run_eval(cfg(data_dir, tmp_path, limit=4), tmp_path / "r", progress=False)


def test_shards_merge_to_single_run(data_dir, tmp_path):
    single = run_eval(cfg(data_dir, tmp_path, use_cache=False), tmp_path / "single", progress=False).metrics
    dirs = []
    for i in range(3):
        d = tmp_path / f"s{i}"
        run_eval(cfg(data_dir, tmp_path, use_cache=False, shard=Shard(index=i, count=3)), d, progress=False)
        dirs.append(d)
    merged = merge_runs(dirs, tmp_path / "merged")
    assert merged == single
    with pytest.raises(UserError, match="shards 2/3 are missing"):
        merge_runs(dirs[:2], tmp_path / "m2")
    with pytest.raises(UserError, match="given twice"):
        merge_runs([dirs[0], dirs[0], dirs[1]], tmp_path / "m3")


def test_compare_reports_disagreements(data_dir, tmp_path):
    run_eval(cfg(data_dir, tmp_path, limit=30), tmp_path / "a", progress=False)
    run_eval(cfg(data_dir, tmp_path, limit=30), tmp_path / "b", backend=CountingBackend(), progress=False)
    (d,) = compare_runs(tmp_path / "a", tmp_path / "b")
    ra = {r["sample_id"]: r for r in records(tmp_path / "a")}
    rb = {r["sample_id"]: r for r in records(tmp_path / "b")}
    expected = {k for k in ra if ra[k]["correct"] != rb[k]["correct"] or ra[k]["extracted"] != rb[k]["extracted"]}
    assert {x["sample_id"] for x in d.disagreements} == expected
    assert d.diff == pytest.approx(d.acc_b - d.acc_a)


def _cli(*args, env=None):
    return [sys.executable, "-m", "lingshu.cli.main", *args]


@pytest.mark.slow
def test_kill_minus_nine_then_resume_equals_uninterrupted(data_dir, tmp_path):
    env = {**os.environ, "LINGSHU_CACHE": str(tmp_path / "cache")}
    run = tmp_path / "killed"
    args = _cli("eval", "run", "-b", BENCH, "--data-dir", str(data_dir), "--backend", "dummy",
                "--backend-opt", "latency_s=0.15", "--chunk-size", "4", "-o", str(run), "-q")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = run / "samples" / f"{BENCH}.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not samples.exists() or samples.read_bytes().count(b"\n") < 20):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = samples.read_bytes().count(b"\n")
    assert 20 <= n_before < 100, "the kill must land mid-run"
    assert not (run / "metrics.json").exists()
    # resume with the same command
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recs = records(run)
    assert len(recs) == 100 and len({r["sample_id"] for r in recs}) == 100
    # an uninterrupted run without cache gives identical metrics
    ref = tmp_path / "ref"
    subprocess.run(_cli("eval", "run", "-b", BENCH, "--data-dir", str(data_dir), "--backend", "dummy",
                        "--no-cache", "-o", str(ref), "-q"), env=env, check=True, stdout=subprocess.DEVNULL)
    assert json.loads((run / "metrics.json").read_text()) == json.loads((ref / "metrics.json").read_text())


def test_cli_user_errors_are_one_line(data_dir, tmp_path):
    env = {**os.environ, "LINGSHU_CACHE": str(tmp_path / "cache")}
    cases = [
        (("eval", "run", "-b", "nope", "--data-dir", str(data_dir), "--backend", "dummy"), "unknown benchmark 'nope'"),
        (("eval", "run", "-b", BENCH, "--data-dir", str(tmp_path / "missing"), "--backend", "dummy"), "benchmark directory not found"),
        (("eval", "run", "-b", BENCH, "--data-dir", str(data_dir), "--backend", "nope"), "unknown backend 'nope'"),
        (("eval", "run", "-b", BENCH, "--data-dir", str(data_dir), "--backend", "dummy", "--shard", "3/2"), "need 0 <= i < n"),
        (("eval", "run", "-b", BENCH, "--data-dir", str(data_dir), "--backend", "dummy", "--profile", "loose"), "unknown profile 'loose'"),
        (("eval", "merge", str(tmp_path), "-o", str(tmp_path / "m")), "not a run directory"),
    ]
    for args, expected in cases:
        res = subprocess.run(_cli(*args), env=env, capture_output=True, text=True, cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr)
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and expected in lines[0], (args, res.stderr)
        assert "Traceback" not in res.stderr
