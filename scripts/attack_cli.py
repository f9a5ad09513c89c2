"""CLI cases of ``scripts/attack_cases.py`` (issue 22 points 1-4 and 9-14), run in one
worker process through the real entry point ``lingshu.cli.main.main``; kill -9 cases and
pipeline cases (which would start a long run if a mistake were silently accepted) run as
their own processes with a deadline. Each case returns (acceptable, why)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "data" / "benchmarks"
NOT_TRIED_AS_ROOT = ["unreadable benchmark folder or file (10)", "read-only output folder (12)"]
Case = tuple[str, str, Callable[[], tuple[bool, str]]]


def tiny_model(work: Path) -> Path:
    out = work / "tiny"
    if not (out / "config.json").is_file():
        from lingshu.models import build_tiny_qwen2_5_vl

        build_tiny_qwen2_5_vl(out)
    return out


# -- running the CLI and judging its answer ---------------------------------------------------


def cli(*argv: str, env: dict | None = None, umask: int | None = None) -> tuple[int, str]:
    """``lingshu ARGV`` in this process; (exit code, everything it wrote to fd 1 and 2)."""
    from lingshu.cli.main import main

    saved_env = dict(os.environ)
    os.environ.update(env or {})
    old_mask = os.umask(umask) if umask is not None else None
    with tempfile.TemporaryFile() as f:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            rc = main(list(argv))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 - what escapes the entry point is the finding
            traceback.print_exc()
            rc = -1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            os.environ.clear()
            os.environ.update(saved_env)
            if old_mask is not None:
                os.umask(old_mask)
        f.seek(0)
        return rc, f.read().decode("utf-8", "replace")


def process(*argv: str, timeout: float = 90) -> tuple[int, str]:
    """``lingshu ARGV`` as its own process; a run past ``timeout`` returns -9."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    try:
        res = subprocess.run([sys.executable, "-m", "lingshu.cli.main", *argv], env=env,
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -9, f"still running after {timeout:.0f} s (the mistake was accepted)"
    return res.returncode, res.stdout + res.stderr


def one_line_refusal(rc: int, out: str) -> tuple[bool, str]:
    """A non-zero exit with a one-line ``error:`` message (or click's usage error), no
    traceback."""
    if "Traceback (most recent call last)" in out:
        return False, "traceback: " + out.strip().splitlines()[-1][:200]
    if rc == 0:
        return False, "accepted (exit 0): " + out.strip()[-200:].replace("\n", " | ")
    if rc == -9:
        return False, out
    if rc == 2 and ("Error" in out or "error" in out):  # click usage error
        return True, "usage error"
    errors = [line for line in out.splitlines() if line.lower().startswith("error")]
    if not errors:
        return False, f"exit {rc} without an error line: " + out.strip()[-200:]
    return True, errors[-1][:160]


def refuse(*argv: str, **kw) -> Callable[[], tuple[bool, str]]:
    return lambda: one_line_refusal(*cli(*argv, **kw))


def refuse_process(*argv: str) -> Callable[[], tuple[bool, str]]:
    return lambda: one_line_refusal(*process(*argv))


def succeed(check: Callable[[int, str], tuple[bool, str]], *argv: str, **kw) -> Callable:
    def run() -> tuple[bool, str]:
        rc, out = cli(*argv, **kw)
        if "Traceback (most recent call last)" in out:
            return False, "traceback: " + out.strip().splitlines()[-1][:200]
        if rc != 0:
            return False, f"exit {rc}: " + out.strip()[-200:]
        return check(rc, out)
    return run


def write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def curation_recipe(path: Path, inputs: list[dict], ops: list[dict], out: str = "out") -> Path:
    return write_yaml(path, {"name": "attack", "inputs": inputs, "ops": ops,
                             "output": {"dir": out, "shard_size": 4, "plots": False}})


def files_holding(root: Path, secrets: tuple[str, ...]) -> list[str]:
    return [f"{p.name}: {s}" for p in root.rglob("*") if p.is_file() for s in secrets
            if s.encode() in p.read_bytes()]


def eval_args(data_dir: Path, out: Path, bench: str = "medqa-usmle", limit: int = 3) -> list[str]:
    return ["eval", "run", "-b", bench, "--data-dir", str(data_dir), "--backend", "dummy",
            "--limit", str(limit), "-o", str(out), "--no-cache", "-q"]


# -- the classes ----------------------------------------------------------------------------

from attack_cli_cases import (  # noqa: E402 - the generators use the helpers above
    eval_cases,
    kill_cases,
    mode_cases,
    rerun_cases,
    secret_cases,
    training_cases,
)


def all_cases(work: Path) -> list[Case]:
    return (secret_cases(work) + rerun_cases(work) + kill_cases(work) + eval_cases(work) +
            training_cases(work) + mode_cases(work))


def run_cases(classes: list[str], work: Path, sample: bool):
    """Yield (class, name, acceptable, why) for every selected case."""
    cases = [c for c in all_cases(work) if not classes or any(o in c[0] for o in classes)]
    if sample:
        cases = cases[::10]
    for i, (cls, name, run) in enumerate(cases):
        cwd = work / "cwd" / str(i)
        cwd.mkdir(parents=True, exist_ok=True)
        here = os.getcwd()
        os.chdir(cwd)
        try:
            ok, why = run()
        except Exception as e:  # noqa: BLE001 - a case that cannot run is not acceptable
            ok, why = False, f"case failed to run: {type(e).__name__}: {e}"
        finally:
            os.chdir(here)
        yield cls, name, ok, why
        shutil.rmtree(cwd, ignore_errors=True)
