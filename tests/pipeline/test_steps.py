"""The step cache: reuse, a change reruns only what follows, resume after a real kill.

Expected behaviour is counted directly: each step function records its calls, so the
tests see exactly which steps ran, which came from the cache and which resumed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from lingshu.pipeline.steps import StepRunner

CALLS: list[str] = []


def _chain(run_dir: Path, cfg: dict) -> list:
    """Three chained steps a -> b -> c, each writing a file; returns their results."""
    steps = StepRunner(run_dir, log=lambda m: None)

    def step(name: str):
        def fn(d: Path) -> dict:
            CALLS.append(name)
            (d / "out.txt").write_text(f"{name}:{cfg[name]}")
            return {"value": cfg[name]}
        return fn

    a = steps.run("a", step("a"), config=cfg["a"])
    b = steps.run("b", step("b"), config=cfg["b"], after=[a])
    c = steps.run("c", step("c"), config=cfg["c"], after=[b])
    return [a, b, c]


def test_rerun_reuses_every_finished_step(tmp_path):
    CALLS.clear()
    cfg = {"a": 1, "b": 2, "c": 3}
    first = _chain(tmp_path, cfg)
    assert CALLS == ["a", "b", "c"] and not any(r.cached for r in first)
    second = _chain(tmp_path, cfg)
    assert CALLS == ["a", "b", "c"]  # nothing ran again
    assert all(r.cached for r in second)
    assert [r.output for r in second] == [{"value": 1}, {"value": 2}, {"value": 3}]


def test_a_changed_step_reruns_it_and_everything_after(tmp_path):
    CALLS.clear()
    _chain(tmp_path, {"a": 1, "b": 2, "c": 3})
    CALLS.clear()
    results = _chain(tmp_path, {"a": 1, "b": 20, "c": 3})
    assert CALLS == ["b", "c"]  # c's own config is unchanged, but it builds on b
    assert [r.cached for r in results] == [True, False, False]
    assert (tmp_path / "b" / "out.txt").read_text() == "b:20"


def test_a_changed_input_file_changes_the_key(tmp_path):
    f = tmp_path / "input.txt"
    f.write_text("one")
    steps = StepRunner(tmp_path / "run", log=lambda m: None)
    r1 = steps.run("s", lambda d: {}, config={}, files=[f])
    r2 = steps.run("s", lambda d: {}, config={}, files=[f])
    f.write_text("two")
    r3 = steps.run("s", lambda d: {}, config={}, files=[f])
    assert r2.cached and not r3.cached and r1.key == r2.key != r3.key


def test_stale_outputs_of_another_configuration_are_cleared(tmp_path):
    steps = StepRunner(tmp_path, log=lambda m: None)

    def crash(d: Path) -> dict:
        (d / "partial.txt").write_text("half")
        raise RuntimeError("interrupted")

    try:
        steps.run("s", crash, config={"v": 1})
    except RuntimeError:
        pass
    seen = {}
    steps.run("s", lambda d: seen.setdefault("same", (d / "partial.txt").exists()) and {}, config={"v": 1})
    assert seen["same"] is True  # same key: resumes in place, partial work kept
    try:
        steps.run("s", crash, config={"v": 2})
    except RuntimeError:
        pass
    (tmp_path / "s" / "partial.txt").write_text("from v2")
    steps.run("s", lambda d: seen.setdefault("other", (d / "partial.txt").exists()) and {}, config={"v": 3})
    assert seen["other"] is False  # another key: the old folder was cleared first


SCRIPT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from lingshu.pipeline.steps import StepRunner

    run = Path(sys.argv[1])
    log = run.parent / "calls.jsonl"

    def note(name, **kw):
        with log.open("a") as fh:
            fh.write(json.dumps({"step": name, **kw}) + "\\n")

    def first(d):
        note("first")
        return {}

    def slow(d):
        # a step that checkpoints its progress, as a training stage does
        done = int((d / "progress").read_text()) if (d / "progress").exists() else 0
        note("slow", start=done)
        for i in range(done, 20):
            time.sleep(0.1)
            (d / "progress").write_text(str(i + 1))
        return {"steps": 20}

    steps = StepRunner(run, log=lambda m: None)
    a = steps.run("first", first, config=1)
    steps.run("slow", slow, config=2, after=[a])
""")


def test_resume_after_a_real_kill(tmp_path):
    script = tmp_path / "pipe.py"
    script.write_text(SCRIPT)
    run = tmp_path / "run"
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, str(script), str(run)], env=env)
    progress = run / "slow" / "progress"
    deadline = time.time() + 60
    while time.time() < deadline and not (progress.exists() and int(progress.read_text() or 0) >= 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "slow" / ".done.json").exists()
    killed_at = int(progress.read_text())
    assert 5 <= killed_at < 20
    subprocess.run([sys.executable, str(script), str(run)], env=env, check=True, timeout=60)
    calls = [json.loads(x) for x in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c["step"] for c in calls] == ["first", "slow", "slow"]  # "first" came from the cache
    assert calls[2]["start"] >= killed_at - 1  # resumed, did not restart from 0
    assert json.loads((run / "slow" / ".done.json").read_text())["output"] == {"steps": 20}


def test_a_moved_run_folder_still_resumes(tmp_path):
    steps = StepRunner(tmp_path / "old", log=lambda m: None)
    steps.run("s", lambda d: {"file": str(d / "x.txt"), "n": 1}, config={})
    (tmp_path / "old").rename(tmp_path / "new")
    moved = StepRunner(tmp_path / "new", log=lambda m: None).run("s", lambda d: {}, config={})
    assert moved.cached and moved.output == {"file": str(tmp_path / "new" / "s" / "x.txt"), "n": 1}
