"""Inputs and outputs given as URLs: an input through fsspec (``memory://``, ``file://``)
gives the same output as the same file given as a local path; an output folder as a
``file://`` URL is that folder; an output URL without ``output.work_dir``, with a protocol
fsspec does not know, or ``memory://`` is refused in one line when the recipe loads (URL
outputs against a real S3 server: test_curation_s3_output.py)."""

from __future__ import annotations

import json

import fsspec
import pytest
from curation_helpers import read_out, write_jsonl

from lingshu.core.errors import UserError
from lingshu.data.curate import parse_recipe, run_recipe

ROWS = [{"id": f"q{i}", "question": f"Question {i % 4} about the kidney and its function?",
         "answer": "An answer."} for i in range(10)]


def _run(tmp_path, path: str, out: str, **output):
    data = {"name": "u", "inputs": [{"name": "t", "path": path}],
            "ops": [{"op": "text_dedup"}], "output": {"dir": out, "shard_size": 3,
                                                      "plots": False, **output}}
    return run_recipe(parse_recipe(data, tmp_path))


def test_memory_and_file_urls_equal_the_local_path(tmp_path):
    write_jsonl(tmp_path / "t.jsonl", ROWS)
    fs = fsspec.filesystem("memory")
    with fs.open("/lingshu-test/t.jsonl", "w") as fh:
        fh.write((tmp_path / "t.jsonl").read_text())
    try:
        local = _run(tmp_path, str(tmp_path / "t.jsonl"), str(tmp_path / "local"))
        _run(tmp_path, "memory://lingshu-test/t.jsonl", str(tmp_path / "mem"))
        _run(tmp_path, f"file://{tmp_path / 't.jsonl'}", f"file://{tmp_path / 'url'}")
    finally:
        fs.rm("/lingshu-test", recursive=True)
    assert (local.kept, local.excluded) == (4, 6)  # q0-q3 kept, their 6 repeats dropped
    for other in ("mem", "url"):
        assert read_out(tmp_path / other) == read_out(tmp_path / "local")
        assert (tmp_path / other / "summary.json").read_bytes() == \
            (tmp_path / "local" / "summary.json").read_bytes()
    # the fsspec copy sits in the work folder, named by the URL
    [copy] = (tmp_path / "mem" / ".work" / "inputs").glob("*/t.jsonl")
    assert copy.read_text() == (tmp_path / "t.jsonl").read_text()
    assert [json.loads(x)["id"] for x in
            (tmp_path / "mem" / "data" / "shard-00000.jsonl").read_text().splitlines()] == \
        ["t:q0", "t:q1", "t:q2"]


def test_an_edited_url_input_is_read_again(tmp_path):
    fs = fsspec.filesystem("memory")
    try:
        for n in (10, 6):
            with fs.open("/lingshu-edit/t.jsonl", "w") as fh:
                fh.write("".join(json.dumps(r) + "\n" for r in ROWS[:n]))
            res = _run(tmp_path, "memory://lingshu-edit/t.jsonl", str(tmp_path / "o"))
            assert res.kept + res.excluded == n
    finally:
        fs.rm("/lingshu-edit", recursive=True)


def test_missing_url_input_and_remote_output_are_one_line_errors(tmp_path):
    with pytest.raises(UserError) as e:
        _run(tmp_path, "memory://lingshu-none/t.jsonl", str(tmp_path / "o"))
    assert str(e.value) == ("input 't': memory://lingshu-none/t.jsonl not found; fix "
                            "inputs[].path")
    write_jsonl(tmp_path / "t.jsonl", ROWS)
    with pytest.raises(UserError) as e:
        _run(tmp_path, str(tmp_path / "t.jsonl"), "s3://bucket/out")
    assert str(e.value) == (
        "recipe: output.dir is a URL (s3://bucket/out): set output.work_dir to a folder "
        "every node mounts (intermediate files and resume)")
    for out, work, says in (
            ("nosuch://b/out", "w", "'nosuch://b/out': cannot write there (Protocol not "
             "known: nosuch); fix output.dir or install the fsspec driver"),
            ("memory://b/out", "w", "memory:// is private to each process"),
            (str(tmp_path / "o"), "s3://b/work", "the work folder must be a local path or file:// "
             "URL on a filesystem every node mounts")):
        with pytest.raises(UserError) as e:
            _run(tmp_path, str(tmp_path / "t.jsonl"), out, work_dir=work)
        assert "\n" not in str(e.value) and says in str(e.value), str(e.value)
