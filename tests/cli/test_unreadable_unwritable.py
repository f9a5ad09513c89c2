"""Issue 22, points 10 and 12: folders and files the command cannot read or write give one
line naming the path and what to do, exit 2, never a traceback: an unreadable benchmark
folder or file (eval), a read-only output folder or an output path that is a file (train,
data run).

Permission bits do not stop root, and these tests often run as root; the commands then
run under ``setpriv`` without the capabilities that let root ignore them
(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a mode of 000 or 555 means what it says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
AS_USER = (
    ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    if os.geteuid() == 0 and shutil.which("setpriv") else []
)


def lingshu(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*AS_USER, sys.executable, "-m", "lingshu.cli.main", *args], capture_output=True,
        text=True, cwd=cwd, timeout=300, env={**os.environ, "LINGSHU_CACHE": str(cwd / "cache")},
    )


def one_line(res: subprocess.CompletedProcess, *expected: str) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert all(e in lines[0] for e in expected), lines[0]
    return lines[0]


@pytest.fixture()
def bench(tmp_path) -> Path:
    shutil.copytree(REPO / "data" / "benchmarks" / "medqa-usmle", tmp_path / "b" / "medqa-usmle")
    return tmp_path / "b"


def _eval(bench: Path, out: Path) -> tuple[str, ...]:
    return ("eval", "run", "-b", "medqa-usmle", "--data-dir", str(bench), "--backend", "dummy",
            "--limit", "2", "-q", "-o", str(out))


@pytest.mark.skipif(os.geteuid() == 0 and not AS_USER, reason="root without setpriv")
def test_unreadable_benchmark_folder(bench, tmp_path):
    folder = bench / "medqa-usmle"
    folder.chmod(0)
    try:
        res = lingshu(*_eval(bench, tmp_path / "run"), cwd=tmp_path)
    finally:
        folder.chmod(0o755)
    one_line(res, str(folder), "Permission denied", "permissions")


@pytest.mark.skipif(os.geteuid() == 0 and not AS_USER, reason="root without setpriv")
def test_unreadable_benchmark_file(bench, tmp_path):
    release = bench / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    release.chmod(0)
    res = lingshu(*_eval(bench, tmp_path / "run"), cwd=tmp_path)
    one_line(res, str(release), "Permission denied")


@pytest.fixture()
def curation(tmp_path) -> Path:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "Q?", "answer": "A."}\n')
    recipe = {"name": "t", "inputs": [{"name": "d", "path": "d.jsonl"}], "ops": [],
              "output": {"dir": "out", "plots": False}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    return tmp_path / "r.yaml"


def test_data_run_output_that_is_a_file(curation, tmp_path):
    (tmp_path / "out").write_text("not a folder")
    one_line(lingshu("data", "run", "--recipe", str(curation), cwd=tmp_path), "out")


@pytest.mark.skipif(os.geteuid() == 0 and not AS_USER, reason="root without setpriv")
def test_data_run_read_only_output_folder(curation, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out").chmod(0o555)
    try:
        res = lingshu("data", "run", "--recipe", str(curation), cwd=tmp_path)
    finally:
        (tmp_path / "out").chmod(0o755)
    one_line(res, "out")


@pytest.fixture(scope="module")
def tiny_vl_dir(tmp_path_factory) -> Path:
    from lingshu.models.tiny import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny-vl"), seed=0)


def _train_recipe(tmp_path: Path, model: Path, output_dir: Path) -> Path:
    import json

    rows = [{"messages": [{"role": "user", "content": [{"type": "text", "text": f"Q{i}?"}]},
                          {"role": "assistant", "content": [{"type": "text", "text": "A."}]}]}
            for i in range(4)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stage = {"name": "sft", "kind": "sft", "data": [{"path": str(tmp_path / "t.jsonl")}],
             "parts": {"vision": 1e-3, "merger": 1e-3, "llm": "frozen"}, "max_steps": 1,
             "max_length": 128, "per_device_batch": 1, "min_pixels": 3136, "max_pixels": 12544}
    recipe = {"name": "t", "base_model": str(model), "output_dir": str(output_dir), "seed": 0,
              "precision": "fp32", "stages": [stage]}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(recipe))
    return tmp_path / "train.yaml"


def test_train_output_that_is_a_file(tiny_vl_dir, tmp_path):
    (tmp_path / "run").write_text("not a folder")
    recipe = _train_recipe(tmp_path, tiny_vl_dir, tmp_path / "run")
    one_line(lingshu("train", "--recipe", str(recipe), cwd=tmp_path), "run")


@pytest.mark.skipif(os.geteuid() == 0 and not AS_USER, reason="root without setpriv")
def test_train_read_only_output_folder(tiny_vl_dir, tmp_path):
    (tmp_path / "ro").mkdir()
    recipe = _train_recipe(tmp_path, tiny_vl_dir, tmp_path / "ro" / "run")
    (tmp_path / "ro").chmod(0o555)
    try:
        res = lingshu("train", "--recipe", str(recipe), cwd=tmp_path)
    finally:
        (tmp_path / "ro").chmod(0o755)
    one_line(res, "ro")
