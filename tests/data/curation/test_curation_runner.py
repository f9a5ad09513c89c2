"""End to end: training JSONL + exclusions + summary; reruns skip; kill -9 resumes;
the Ray executor gives the same records and exclusions as the local one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from curation_helpers import BENCH, SLAKE, rad_images, read_out, write_jsonl, write_recipe

from lingshu.core.errors import UserError
from lingshu.data.curate import load_recipe, run_recipe


def _inputs(tmp_path, crafted, n_rad=12):
    rows = []
    rows_json = json.loads((SLAKE / "test.sample40images.json").read_text())
    for r in rows_json[:30]:
        rows.append({"id": str(r["qid"]), "image": str(SLAKE / "imgs" / r["img_name"]),
                     "conversations": [{"from": "human", "value": "<image>\n" + r["question"]},
                                       {"from": "gpt", "value": r["answer"]}]})
    write_jsonl(tmp_path / "slake.jsonl", rows)
    caps = [{"id": f"c{i}", "image": str(p), "task": "caption",
             "question": "Describe the image.",
             "answer": f"A radiograph number {i} showing the {['chest', 'head', 'abdomen'][i % 3]}"
                       f" with findings described in detail for case {i}."}
            for i, p in enumerate(rad_images(n_rad))]
    caps.append({"id": "dup", "image": str(crafted["reencoded"]), "task": "caption",
                 "question": "Describe the image.",
                 "answer": "An exact pixel copy of the first radiograph, stored again as PNG."})
    caps.append({"id": "tiny", "image": str(crafted["tiny"]), "task": "caption",
                 "question": "Describe.", "answer": "A gray rectangle that is too small."})
    caps.append({"id": "broken", "image": str(crafted["truncated"]), "task": "caption",
                 "question": "Describe.", "answer": "Truncated file."})
    caps.append({"id": "short", "image": str(rad_images(40)[-1]), "task": "caption",
                 "question": "Describe.", "answer": "CT."})
    write_jsonl(tmp_path / "caps.jsonl", caps)
    return [{"name": "slake-train", "path": "slake.jsonl", "license": "CC BY 4.0"},
            {"name": "captions", "path": "caps.jsonl", "task": "caption", "priority": 10}]


OPS = [
    {"op": "image_decodable"}, {"op": "image_min_side"}, {"op": "image_phash"},
    {"op": "image_dedup", "scope": "global"},
    {"op": "token_count"},
    {"op": "decontaminate", "data_dir": str(BENCH), "benchmarks": ["slake"]},
    {"op": "modality_label"},
    {"op": "synth_vqa_template"},
]


def test_end_to_end_outputs(tmp_path, crafted):
    recipe = write_recipe(tmp_path / "r.yaml", _inputs(tmp_path, crafted), OPS, plots=True,
                          mixtures={"sft": {"sources": {"captions": 1.0, "slake-train": 1.0}}})
    res = run_recipe(load_recipe(recipe))
    out = tmp_path / "out"
    rows, excl = read_out(out)
    why = {e["id"]: (e["op"], e["reason"]) for e in excl}
    assert why["captions:dup"][0] == "image_dedup"
    assert why["captions:dup"][1] == "exact image duplicate of captions:c0"
    assert why["captions:tiny"] == ("image_min_side", "image side 40 < 64")
    assert why["captions:broken"][0] == "image_decodable"
    assert why["captions:short"][0] == "token_count"
    # every bundled SLAKE test item is a benchmark item: all are removed, the first question
    # of each image by decontamination, the others as duplicates of that image (global)
    slake = [e for e in excl if e["source"] == "slake-train"]
    assert len(slake) == 30
    decon = [e for e in slake if e["op"] == "decontaminate"]
    n_images = len({json.loads(line)["image"] for line in
                    (tmp_path / "slake.jsonl").read_text().splitlines()})
    assert len(decon) == n_images
    assert {e["op"] for e in slake} == {"decontaminate", "image_dedup"}
    assert all(e["statistic"]["benchmark"] == "slake" for e in decon)
    assert res.kept == len(rows) and res.excluded == len(excl)
    # training format (CONTRACTS point 2): images relative to the JSONL's folder
    for r in rows:
        assert {"id", "messages", "source", "modality"} <= set(r)
        for m in r["messages"]:
            for p in m["content"]:
                if p["type"] == "image":
                    assert (out / "data" / p["image"]).is_file()
    kids = [r for r in rows if r["meta"].get("synthesis")]
    assert kids and all(k["modality"] for k in kids)  # template VQA needs a label
    # every row is labelled or, below the modality floor, says "unknown" and why
    assert all(r["modality"] or r["stats"]["modality_label"]["label"] == "unknown"
               for r in rows if not r["meta"].get("synthesis"))
    assert {p.name for p in (out / "plots").glob("*.png")} == {
        "counts_per_op.png", "modality.png", "token_lengths.png", "image_sizes.png"}
    s = json.loads((out / "summary.json").read_text())
    assert s["excluded_by_op"]["decontaminate"] == n_images
    card = (out / "data_card.md").read_text()
    assert "CC BY 4.0" in card and "decontaminate" in card
    assert len((out / "decontamination.jsonl").read_text().splitlines()) == n_images
    mix = json.loads((out / "mixtures" / "sft.json").read_text())
    assert mix["records"] == len((out / "mixtures" / "sft.jsonl").read_text().splitlines())
    # a rerun redoes nothing: every shard file is kept as it was (but the images' digests,
    # which every run computes again to see an edited image)
    stamps = _stamps(out)
    run_recipe(load_recipe(recipe))
    assert stamps == _stamps(out) and len(stamps) > 50
    assert all(p.stat().st_mtime_ns > stamps[next(iter(stamps))] for p in
               (out / ".work").glob("read-*/images/shard-*.json"))
    assert read_out(out) == (rows, excl)


def _stamps(out: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (out / ".work").rglob("shard-*")
            if p.parent.name != "images"}


def _kill_recipe(tmp_path: Path, out: str) -> Path:
    write_jsonl(tmp_path / "rad.jsonl", [
        {"id": p.stem, "image": str(p), "question": "Describe.", "answer": f"Image {p.stem}."}
        for p in rad_images(200)])
    return write_recipe(tmp_path / f"{out}.yaml", [{"name": "rad", "path": "rad.jsonl"}],
                        [{"op": "image_decodable"}, {"op": "image_phash"},
                         {"op": "image_dedup", "threshold": 4}, {"op": "modality_label"}],
                        out=out, shard_size=4)


@pytest.mark.slow
def test_resume_after_kill_9(tmp_path):
    clean = _kill_recipe(tmp_path, "clean")
    run_recipe(load_recipe(clean))
    killed = _kill_recipe(tmp_path, "killed")
    env = dict(os.environ)
    code = "import sys; from lingshu.cli.main import main; sys.exit(main(sys.argv[1:]))"
    work = tmp_path / "killed" / ".work"

    def count(stage: str) -> int:
        return len(list(work.glob(f"{stage}*/shard-*.jsonl.gz")))

    # kill once in the middle of segment 0 (hashing), once in the middle of segment 1
    for stage in ("stage0", "stage1"):
        proc = subprocess.Popen([sys.executable, "-c", code, "data", "run", "--recipe",
                                 str(killed)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if count(stage) >= 8 or proc.poll() is not None:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 0 < count(stage) < 50, count(stage)
    assert not (tmp_path / "killed" / "summary.json").exists()  # it really was interrupted
    partial = len(list(work.rglob("shard-*.jsonl.gz")))
    run_recipe(load_recipe(killed))
    assert partial > 0
    assert read_out(tmp_path / "killed") == read_out(tmp_path / "clean")
    rows, excl = read_out(tmp_path / "killed")
    ids = [r["id"] for r in rows] + [e["id"] for e in excl]
    assert len(ids) == len(set(ids)) == 200


@pytest.mark.slow
def test_ray_executor_equals_local(tmp_path, crafted, monkeypatch):
    from lingshu.data.curate import read_pieces

    monkeypatch.setattr(read_pieces, "PIECE_BYTES", 300)  # several read jobs in Ray
    inputs = _inputs(tmp_path, crafted, n_rad=8)
    local = write_recipe(tmp_path / "local.yaml", inputs, OPS, out="local")
    ray_r = write_recipe(tmp_path / "ray.yaml", inputs, OPS, out="ray")
    run_recipe(load_recipe(local))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    broken = write_recipe(tmp_path / "broken.yaml", [*inputs, {"name": "b", "path": str(bad),
                                                             "format": "json"}], OPS, out="broken")
    try:
        run_recipe(load_recipe(ray_r), executor="ray", workers=2)
        # a worker's UserError reaches the user as its one line, not Ray's wrapped traceback
        with pytest.raises(UserError, match=r"^\S*bad.json: not a UTF-8 JSON file .*; fix or convert it$"):
            run_recipe(load_recipe(broken), executor="ray", workers=2)
    finally:
        import ray

        ray.shutdown()
    assert read_out(tmp_path / "ray") == read_out(tmp_path / "local")
    # the same keys (the images' part hashed in Ray's workers or in this process)
    assert _steps(tmp_path / "ray") == _steps(tmp_path / "local")
    assert len([s for s in _steps(tmp_path / "local") if s.startswith("stage")]) == 2


def _steps(out: Path) -> list[str]:
    """The step folders of a run: their names hold the steps' keys."""
    return sorted(p.name for p in (out / ".work").iterdir()
                  if p.name.startswith(("read-", "stage", "write-")))


def test_local_worker_processes_give_the_same_output(tmp_path):
    write_jsonl(tmp_path / "rad.jsonl", [
        {"id": p.stem, "image": str(p), "question": "Describe.", "answer": f"Image {p.stem}."}
        for p in rad_images(16)])
    ops = [{"op": "image_decodable"}, {"op": "image_phash"}, {"op": "image_dedup"},
           {"op": "language_id"}]
    one = write_recipe(tmp_path / "one.yaml", [{"name": "rad", "path": "rad.jsonl"}], ops,
                       out="one", shard_size=4)
    two = write_recipe(tmp_path / "two.yaml", [{"name": "rad", "path": "rad.jsonl"}], ops,
                       out="two", shard_size=4)
    run_recipe(load_recipe(one))
    run_recipe(load_recipe(two), workers=2)
    assert read_out(tmp_path / "one") == read_out(tmp_path / "two")


def _write_pid(job: dict) -> str:
    Path(job["out"]).write_text(str(os.getpid()))
    return "pid"


def test_a_lone_job_runs_in_a_worker_process(tmp_path, monkeypatch):
    """With workers > 1 nothing runs on the driver, a list of one job (a decision's
    components job, which holds every edge) included; with workers 1 all runs here."""
    from lingshu.data.curate import shards
    from lingshu.data.curate.executors import make_executor

    monkeypatch.setitem(shards.JOBS, "pid", _write_pid)
    for workers in (2, 1):
        ex = make_executor("local", [], workers=workers)
        try:
            ex.run([{"kind": "pid", "out": str(tmp_path / f"pid{workers}")}])
        finally:
            ex.close()
    assert int((tmp_path / "pid2").read_text()) != os.getpid()
    assert int((tmp_path / "pid1").read_text()) == os.getpid()


def test_decisions_and_writes_are_per_shard(tmp_path):
    """A global decision is stored per shard (a shard job reads only its own drops) and
    each shard's output, exclusions and counts are written by its own job."""
    rows = [{"id": f"q{i}", "question": f"Question number {i % 5} about the liver?",
             "answer": "An answer."} for i in range(12)]
    write_jsonl(tmp_path / "t.jsonl", rows)
    r = write_recipe(tmp_path / "r.yaml", [{"name": "t", "path": "t.jsonl"}],
                     [{"op": "text_dedup"}], shard_size=4)
    res = run_recipe(load_recipe(r))
    out = tmp_path / "out"
    [stage] = list((out / ".work").glob("stage0-*"))
    marker = json.loads((stage / "decisions.json").read_text())
    assert marker == {"op": "text_dedup", "dropped": 7, "shards": 3}
    parts = [json.loads((stage / "decisions" / f"shard-{i:05d}.json").read_text())["drop"]
             for i in range(3)]
    # q0-q4 are the first of each text; q5-q11 repeat them: shard 1 holds q5-q7, shard 2 q8-q11
    assert [sorted(p) for p in parts] == [[], ["t:q5", "t:q6", "t:q7"],
                                          ["t:q10", "t:q11", "t:q8", "t:q9"]]
    rows_out, excl = read_out(out)
    assert [x["id"] for x in rows_out] == [f"t:q{i}" for i in range(5)]
    assert sorted(e["id"] for e in excl) == sorted(k for p in parts for k in p)
    assert (res.kept, res.excluded) == (5, 7)
    [write] = list((out / ".work").glob("write-*"))
    counts = [json.loads((write / f"shard-{i:05d}.json").read_text())["counts"]
              for i in range(3)]
    assert [c["kept"].get("t", 0) for c in counts] == [4, 1, 0]
    assert [c["excluded"].get("t", 0) for c in counts] == [0, 3, 4]
    # an output shard deleted after the run is written again by a rerun
    (out / "data" / "shard-00000.jsonl").unlink()
    run_recipe(load_recipe(r))
    assert read_out(out) == (rows_out, excl)
