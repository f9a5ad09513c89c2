"""Issue 22, point 3: a rerun of `lingshu data run` sees every edited input. The read
step is keyed by the content of the input files, a segment by the files its ops read
(a decontamination data_dir), and the training JSONL is rewritten, not kept."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from curation_helpers import BENCH, read_out, write_jsonl, write_recipe


def data_run(recipe) -> None:
    """A real rerun: a new process, so no in-process cache can hide an edit."""
    subprocess.run([sys.executable, "-m", "lingshu.cli.main", "data", "run", "--recipe",
                    str(recipe)], check=True, capture_output=True, timeout=300)


def _rows(n: int, first_answer: str) -> list[dict]:
    rows = [{"id": f"q{i}", "question": f"Which organ is described in note {i}?",
             "answer": f"Organ {i}."} for i in range(n)]
    rows[0]["answer"] = first_answer
    return rows


def test_editing_the_input_file_is_seen_by_the_rerun(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", _rows(6, "The liver."))
    recipe = write_recipe(tmp_path / "r.yaml", [{"name": "d", "path": "d.jsonl"}],
                          [{"op": "token_count"}], shard_size=4)
    data_run(recipe)
    rows, _ = read_out(tmp_path / "out")
    assert len(rows) == 6
    write_jsonl(tmp_path / "d.jsonl", _rows(8, "The spleen."))  # same path, new content
    data_run(recipe)
    rows, _ = read_out(tmp_path / "out")
    assert len(rows) == 8
    assert rows[0]["messages"][-1]["content"][0]["text"] == "The spleen."
    write_jsonl(tmp_path / "d.jsonl", _rows(3, "The kidney."))  # fewer shards than before
    data_run(recipe)
    rows, _ = read_out(tmp_path / "out")
    assert [r["id"] for r in rows] == ["d:q0", "d:q1", "d:q2"]
    assert sorted(p.name for p in (tmp_path / "out" / "data").glob("shard-*")) == [
        "shard-00000.jsonl"]


def test_editing_the_decontamination_benchmarks_is_seen_by_the_rerun(tmp_path):
    """The same recipe, but the benchmark release it decontaminates against gains the
    question the training data holds: the rerun drops it."""
    bench = tmp_path / "bench"
    shutil.copytree(BENCH / "medqa-usmle", bench / "medqa-usmle")
    release = bench / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    item = json.loads(release.read_text().splitlines()[0])
    question = item["question"]
    write_jsonl(tmp_path / "d.jsonl", [
        {"id": "leak", "question": question, "answer": "A."},
        {"id": "fresh", "question": "Name the largest bone of the human leg.", "answer": "Femur."},
    ])
    lines = release.read_text().splitlines()
    release.write_text("\n".join(lines[1:]) + "\n")  # the leaked question is not there yet
    recipe = write_recipe(tmp_path / "r.yaml", [{"name": "d", "path": "d.jsonl"}],
                          [{"op": "decontaminate", "data_dir": str(bench),
                            "benchmarks": ["medqa-usmle"]}])
    data_run(recipe)
    assert sorted(r["id"] for r in read_out(tmp_path / "out")[0]) == ["d:fresh", "d:leak"]
    release.write_text("\n".join(lines) + "\n")
    data_run(recipe)
    rows, excl = read_out(tmp_path / "out")
    assert [r["id"] for r in rows] == ["d:fresh"]
    assert [e["id"] for e in excl] == ["d:leak"] and excl[0]["op"].startswith("decontaminate")
