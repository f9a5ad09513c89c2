"""User mistakes on the command line: one line (or the usage line and the error), a
non-zero exit, never a traceback, and no half-made run directory left behind (issue 9)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lingshu.core.errors import UserError
from lingshu.core.registry import Registry

BENCH = "medqa-usmle"


def _run(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LINGSHU_CACHE": str(cwd / "cache"), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "lingshu.cli.main", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_registry_suggests_the_closest_name():
    reg: Registry[int] = Registry("benchmark")
    for name in ("vqa-rad", "slake", "pathvqa"):
        reg.add(name, 0)
    with pytest.raises(UserError, match=r"unknown benchmark 'vqa-rda'; did you mean 'vqa-rad'\?"):
        reg.get("vqa-rda")
    with pytest.raises(UserError) as e:
        reg.get("zzzzzz")
    assert "did you mean" not in str(e.value) and "expected one of: pathvqa, slake, vqa-rad" in str(e.value)


@pytest.mark.parametrize(
    "args",
    [("eval", "run", "--bogus"), ("evl",), ("eval", "run", "--limit", "abc"), ("benchmarks", "lst")],
)
def test_usage_errors_print_usage_and_error_not_a_traceback(tmp_path, args):
    res = _run(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.lstrip().startswith("Usage:") and "Error:" in res.stderr


def _eval(data_dir: Path, *extra: str) -> tuple[str, ...]:
    return ("eval", "run", "-b", BENCH, "--data-dir", str(data_dir), "--backend", "dummy", *extra)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (("--profile", "stric"), "did you mean 'strict'?"),
        (("--backend", "dumy"), "did you mean 'dummy'?"),
        (("--limit", "0"), "limit"),
        (("--max-new-tokens", "0"), "generation.max_new_tokens"),
        (("--chunk-size", "0"), "chunk_size"),
        (("--temperature", "-0.5"), "generation.temperature"),
    ],
)
def test_bad_names_and_numbers_are_one_line_and_create_nothing(data_dir, tmp_path, extra, expected):
    res = _run(*_eval(data_dir, *extra), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = _lines(res.stderr)
    assert len(lines) == 1 and expected in lines[0], res.stderr
    assert not (tmp_path / "runs").exists(), "a refused run must not create its directory"
    assert "run directory" not in res.stdout


def test_mistyped_benchmark_gets_a_suggestion(data_dir, tmp_path):
    res = _run("eval", "run", "-b", "vqa-rda", "--data-dir", str(data_dir), "--backend", "dummy", cwd=tmp_path)
    assert res.returncode == 2 and "did you mean 'vqa-rad'?" in res.stderr


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("generation: {temprature: 0.5}\n", "generation.temprature: unknown key (did you mean 'temperature'?"),
        ("generation: {temperature: hot}\n", "generation.temperature: "),
        ("judge: {model: m, concurency: 3}\n", "judge.concurency: unknown key (did you mean 'concurrency'?"),
        ("limt: 3\n", "limt: unknown key (did you mean 'limit'?"),
    ],
)
def test_config_yaml_mistakes_are_named_by_dotted_path(data_dir, tmp_path, yaml_text, expected):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    res = _run(*_eval(data_dir, "--config", str(cfg)), cwd=tmp_path)
    lines = _lines(res.stderr)
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert expected in lines[0] and str(cfg) in lines[0], lines[0]


def test_output_dir_that_is_a_file(data_dir, tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    res = _run(*_eval(data_dir, "--limit", "2", "-o", str(target)), cwd=tmp_path)
    lines = _lines(res.stderr)
    assert res.returncode == 2 and len(lines) == 1 and "is a file" in lines[0], res.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_output_dir_in_a_read_only_place(data_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = _run(*_eval(data_dir, "--limit", "2", "-o", str(ro / "run")), cwd=tmp_path)
    finally:
        ro.chmod(0o755)
    lines = _lines(res.stderr)
    assert res.returncode == 2 and len(lines) == 1 and "not writable" in lines[0], res.stderr


def test_cache_that_is_not_sqlite(data_dir, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a database, just some text\n" * 100)
    res = _run(*_eval(data_dir, "--limit", "2", "--cache", str(bad), "-o", str(tmp_path / "run")), cwd=tmp_path)
    lines = _lines(res.stderr)
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert "not an SQLite file" in lines[0] and "--no-cache" in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_cache_in_an_unwritable_place(data_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = _run(*_eval(data_dir, "--limit", "2", "--cache", str(ro / "c.sqlite"), "-o", str(tmp_path / "run")), cwd=tmp_path)
    finally:
        ro.chmod(0o755)
    lines = _lines(res.stderr)
    assert res.returncode == 2 and len(lines) == 1 and "--cache" in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_a_failed_run_leaves_no_half_made_directory(tmp_path):
    """Data missing: the error is one line and ``runs/...`` does not exist afterwards."""
    res = _run("eval", "run", "-b", BENCH, "--data-dir", str(tmp_path / "nothing"), "--backend", "dummy", cwd=tmp_path)
    assert res.returncode == 2 and "benchmark directory not found" in res.stderr
    assert not (tmp_path / "runs").exists()
    # a valid SQLite file stays usable as a cache (the check does not reject good files)
    good = tmp_path / "good.sqlite"
    sqlite3.connect(good).close()
    from lingshu.eval.cache import ResponseCache

    ResponseCache(good).close()


def test_read_only_output_dir_in_process(data_dir, tmp_path, monkeypatch):
    """The same refusal where the suite runs as root (which ignores permission bits)."""
    from lingshu.eval import EvalConfig, resume, run_eval

    monkeypatch.setattr(resume.os, "access", lambda path, mode: False)
    cfg = EvalConfig(benchmarks=[BENCH], data_dir=data_dir, backend="dummy", limit=2, use_cache=False)
    with pytest.raises(UserError, match="not writable"):
        run_eval(cfg, tmp_path / "ro" / "run", progress=False)
    assert not (tmp_path / "ro").exists()


def test_cache_whose_folder_is_a_file(data_dir, tmp_path):
    """An unusable --cache location (works as root too: the parent is a file)."""
    (tmp_path / "blocker").write_text("x")
    res = _run(*_eval(data_dir, "--limit", "2", "--cache", str(tmp_path / "blocker" / "c.sqlite"),
                      "-o", str(tmp_path / "run")), cwd=tmp_path)
    lines = _lines(res.stderr)
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert "--cache" in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()
