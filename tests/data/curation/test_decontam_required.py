"""Issue 22, point 13: decontamination that cannot run fails the run (one line) instead of
handing back an undecontaminated dataset with a warning: a missing data_dir, or a named
benchmark missing from it."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from curation_helpers import BENCH


def _data_run(tmp_path, op: dict) -> subprocess.CompletedProcess:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "Q?", "answer": "A."}\n')
    doc = {"name": "t", "inputs": [{"name": "d", "path": "d.jsonl"}], "ops": [op],
           "output": {"dir": "out", "plots": False}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    return subprocess.run([sys.executable, "-m", "lingshu.cli.main", "data", "run", "--recipe",
                           str(tmp_path / "r.yaml")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)


def _one_line(res, *expected: str) -> None:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert len(lines) == 1 and all(e in lines[0] for e in expected), lines


def test_a_missing_data_dir_fails_the_run(tmp_path):
    res = _data_run(tmp_path, {"op": "decontaminate", "data_dir": str(tmp_path / "nowhere")})
    _one_line(res, "decontaminate", str(tmp_path / "nowhere"), "not found")
    assert not (tmp_path / "out" / "data").exists()


def test_a_named_benchmark_missing_from_the_data_dir_fails_the_run(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "medqa-usmle").symlink_to(BENCH / "medqa-usmle")
    res = _data_run(tmp_path, {"op": "decontaminate", "data_dir": str(tmp_path / "bench"),
                               "benchmarks": ["medqa-usmle", "pubmedqa"]})
    _one_line(res, "'pubmedqa' not found under", str(tmp_path / "bench"))


def test_refused_benchmark_images_fail_the_run(tmp_path):
    """An image folder linked into the benchmark folder from outside is refused by the
    loader (issue 22, point 9): decontamination cannot check those images, so the run
    fails naming the refusal instead of handing back a dataset checked without them."""
    rows = json.loads((BENCH / "vqa-rad" / "VQA_RAD Dataset Public (train rows only).json")
                      .read_text())
    for r in rows:
        r["phrase_type"] = "test_freeform"  # the bundled rows as the evaluation split
    root = tmp_path / "bench" / "vqa-rad"
    root.mkdir(parents=True)
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(rows))
    (root / "VQA_RAD Image Folder").symlink_to(BENCH / "vqa-rad" / "VQA_RAD Image Folder")
    res = _data_run(tmp_path, {"op": "decontaminate", "data_dir": str(tmp_path / "bench"),
                               "benchmarks": ["vqa-rad"]})
    errors = [line for line in res.stderr.splitlines() if line.startswith("error")]
    assert res.returncode == 2 and "Traceback" not in res.stderr and len(errors) == 1, res.stderr
    assert all(e in errors[0] for e in ("decontaminate", "vqa-rad/test", "refused",
                                        "symbolic link")), errors  # the loader warned too
    assert not (tmp_path / "out" / "data").exists()
