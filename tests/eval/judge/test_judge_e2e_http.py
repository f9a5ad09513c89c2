"""The judge end to end over real HTTP: ``lingshu serve`` serving SmolLM2-135M-Instruct in
its own process is the judge of a run over the bundled SLAKE data (dummy model answers).

One scenario, in order:
1. the server is killed (SIGKILL) while the run is judging: the run still finishes, the
   verdicts that arrived are kept, the rest are judge errors saying why;
2. the server is restarted and the same run resumed: only the failed judgements are asked
   again, and every sample ends with a parsed verdict or a recorded unparseable answer (a
   135M model may answer garbage; it must never become a verdict);
3. the server is stopped and the run repeated in a new directory with the same cache: all
   verdicts come from the judge cache, none is asked (with the server gone, any request
   would be a judge error), and they equal those of step 2.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from lingshu.eval import rundir
from lingshu.eval.config import EvalConfig
from lingshu.eval.metrics.aggregate import latest_records
from lingshu.eval.runner import run_eval

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
LIMIT = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, log: Path, models_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "LINGSHU_MODELS": str(models_dir)}
    env.pop("LINGSHU_API_KEY", None)  # the server must not require a key
    cmd = [sys.executable, "-m", "lingshu.cli.serve", "--model", MODEL, "--port", str(port),
           "--batch-size", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise AssertionError(f"server did not come up:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen, *, kill: bool = False) -> None:
    if proc.poll() is None:
        proc.kill() if kill else proc.terminate()
    proc.wait(60)


def _cfg(data_dir: Path, tmp_path: Path, port: int) -> EvalConfig:
    return EvalConfig(
        benchmarks=["slake"], data_dir=data_dir, limit=LIMIT, profile="medevalkit", backend="dummy",
        cache_path=tmp_path / "cache.sqlite", bootstrap_resamples=200,
        judge={"model": MODEL, "base_url": f"http://127.0.0.1:{port}/v1", "max_tokens": 24,
               "concurrency": 1, "max_retries": 1, "backoff_s": 0.1, "backoff_max_s": 0.2,
               "timeout_s": 300},
    )  # fmt: skip


def _judged(run: Path) -> dict[str, dict]:
    return {r["sample_id"]: r for r in latest_records(rundir.load_records(run)) if "judge" in r}


def _kill_when_judged(proc: subprocess.Popen, samples: Path, n: int, stop: threading.Event) -> None:
    """SIGKILL the server once ``n`` judged records are on disk (mid-run)."""
    while not stop.is_set():
        if samples.exists():
            done = sum('"judge":' in line for line in samples.read_text().splitlines())
            if done >= n:
                proc.kill()
                return
        time.sleep(0.1)


def test_judge_over_http_killed_resumed_cached(data_dir, tmp_path, tmp_path_factory):
    models_dir = tmp_path_factory.getbasetemp() / "lingshu-models"
    port, log = _free_port(), tmp_path / "server.log"
    cfg = _cfg(data_dir, tmp_path, port)
    run = tmp_path / "run"

    # 1. killed mid-run: chunks of concurrency x 4 = 4; kill after the first chunk.
    server = _start_server(port, log, models_dir)
    stop = threading.Event()
    watcher = threading.Thread(
        target=_kill_when_judged, args=(server, rundir.samples_path(run, "slake"), 4, stop), daemon=True
    )
    watcher.start()
    try:
        res = run_eval(cfg, run, progress=False)
    finally:
        stop.set()
        watcher.join(5)
        _stop(server, kill=True)
    judged = _judged(run)
    assert len(judged) == LIMIT  # every SLAKE question is in MedEvalKit's judge scope
    arrived = {k for k, r in judged.items() if r["judge"]["raw"] is not None}
    failed = {k for k, r in judged.items() if r["judge"]["raw"] is None}
    assert len(arrived) >= 4 and failed, "the kill must land while judging"
    for k in failed:
        err = judged[k]["judge"]["error"]
        assert err.startswith(("judge request failed: connection error", "judge not asked")), err
        assert judged[k]["correct"] is None and judged[k]["rule_correct"] is not None
    b = res.metrics["benchmarks"]["slake"]
    assert b["judge"]["n_judge_errors_request"] == len(failed)
    assert b["n_scored"] == LIMIT - b["n_judge_errors"]
    assert "judge request failed" in (run / "summary.md").read_text() or "judge not asked" in (run / "summary.md").read_text()
    first_raw = {k: judged[k]["judge"]["raw"] for k in arrived}

    # 2. restarted (same endpoint, so the same run configuration): resume fills the gaps.
    server = _start_server(port, log, models_dir)
    try:
        res = run_eval(cfg, run, progress=False)
    finally:
        _stop(server)
    st = res.stats["slake"]
    assert (st.judge_asked, st.judge_requests, st.judge_cache_hits) == (len(failed), len(failed), 0)
    judged = _judged(run)
    assert {k: judged[k]["judge"]["raw"] for k in arrived} == first_raw  # not asked again
    for r in judged.values():
        j = r["judge"]
        assert j["raw"] is not None, j  # an answer arrived for every sample
        assert (j["verdict"] is None) == (j["error"] is not None)
        if j["verdict"] is None:
            assert j["error"].startswith("unparseable judge answer"), j
        else:
            assert r["correct"] is j["verdict"] and r["rule_correct"] is not None
    verdicts = {k: r["judge"]["verdict"] for k, r in judged.items()}
    assert sum(v is not None for v in verdicts.values()) >= 3, [r["judge"]["raw"] for r in judged.values()]
    b = res.metrics["benchmarks"]["slake"]
    assert b["judge"]["n_judge_errors_request"] == 0
    assert b["judge"]["n_judged"] == sum(v is not None for v in verdicts.values())

    # 3. server gone, new run directory, same cache: nothing is asked.
    again = tmp_path / "again"
    res = run_eval(cfg, again, progress=False)
    st = res.stats["slake"]
    assert (st.judge_requests, st.judge_cache_hits, st.judge_errors) == (0, LIMIT, b["n_judge_errors"])
    assert {k: r["judge"]["verdict"] for k, r in _judged(again).items()} == verdicts
    assert all(r["judge"]["cached"] for r in _judged(again).values())
    assert res.metrics["benchmarks"]["slake"]["judge"]["n_judge_errors_request"] == 0
