"""The read step's pieces (``read_pieces.py``): inputs read by jobs in the workers give
the records, exclusions and ids of one stream over every input (the reader with its
single id table, ``read_input(..., number_ids=True)``), survive kill -9 at any point, and
the driver process never runs a reader."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from curation_helpers import read_out, write_jsonl, write_recipe

from lingshu.data.curate import load_recipe, read_pieces, run_recipe
from lingshu.data.curate.read_step import read_shards
from lingshu.data.curate.readers import SPLITS, read_input
from lingshu.data.curate.record import Record
from lingshu.data.curate.shards import run_job
from lingshu.data.curate.stage_files import read_stage, stage_file

PIECE = 400
"""Bytes per job in these tests: the main input (about 3 KB) becomes about 8 jobs."""


def _run_all(jobs):
    for j in jobs:
        run_job(j)


def _main_lines() -> list[bytes]:
    """Rows with and without ids, a run of one repeated id long enough to cross a piece
    boundary, repeats far apart, blank, malformed, non-UTF-8 and non-object lines."""
    rows: list[bytes] = []
    for i in range(60):
        if i % 7 == 3:
            rows.append(b"{not json\n")
        elif i % 11 == 5:
            rows.append(b"\n")
        elif i % 13 == 9:
            rows.append(b'{"question": "caf\xe9", "answer": "x"}\n')  # latin-1 byte
        elif i % 17 == 16:
            rows.append(b"[1, 2]\n")
        elif 20 <= i < 32:
            rows.append(json.dumps({"id": "run", "question": f"Q{i}", "answer": "A"})
                        .encode() + b"\n")
        elif i % 3 == 0:
            rows.append(json.dumps({"question": f"no id {i}", "answer": "A"}).encode() + b"\n")
        else:
            rows.append(json.dumps({"id": f"k{i % 4}", "question": f"Q {i} \u00e9",
                                    "answer": "A"}, ensure_ascii=False).encode() + b"\n")
    return rows


def _recipe(tmp_path: Path, shard_size: int = 4):
    (tmp_path / "main.jsonl").write_bytes(b"".join(_main_lines())[:-1])  # no final newline
    write_jsonl(tmp_path / "small.jsonl", [{"id": "k1", "question": "S?", "answer": "s"}] * 3)
    write_jsonl(tmp_path / "rows.json.jsonl", [{"question": f"L{i}", "answer": "l"}
                                               for i in range(9)])
    (tmp_path / "rows.json").write_text(json.dumps(
        [{"id": "j", "question": "J?", "answer": "j"}] * 2))
    inputs = [{"name": "main", "path": "main.jsonl"},
              {"name": "tiny", "path": "small.jsonl"},
              {"name": "limited", "path": "rows.json.jsonl", "limit": 5, "format": "jsonl"},
              {"name": "js", "path": "rows.json"},
              {"name": "main2", "path": "main.jsonl"}]
    return load_recipe(write_recipe(tmp_path / "r.yaml", inputs, [], shard_size=shard_size))


def _reference(recipe, work: Path) -> tuple[list[dict], list[dict]]:
    """One stream over every input, the reader numbering ids with one table each."""
    recs, excl = [], []
    for spec in recipe.inputs:
        for item in read_input(spec, work, recipe.base_dir, number_ids=True):
            (recs.append(item.to_dict()) if isinstance(item, Record) else excl.append(item))
    return recs, excl


def _read(read_dir: Path, n: int) -> tuple[list[dict], list[dict]]:
    files = [read_stage(stage_file(read_dir, i)) for i in range(n)]
    return [r for f in files for r in f[0]], [e for f in files for e in f[1]]


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(read_pieces, "PIECE_BYTES", PIECE)
    monkeypatch.setattr(read_pieces, "BLOCK", 61)  # the scan's blocks cut lines anywhere


def test_pieces_equal_one_stream(tmp_path, small_pieces):
    recipe = _recipe(tmp_path)
    local = [tmp_path / s.path for s in recipe.inputs]
    jobs = [json.loads(j) for j in read_pieces.plan(recipe.inputs, local, PIECE)]
    main_pieces = [p for j in jobs for x, p in j if x == 0]
    assert len(jobs) >= 6 and len(main_pieces) >= 6
    # a piece boundary inside the run of ``id: run`` (lines 20-31)
    assert any(20 < p["line"] < 32 for p in main_pieces)
    assert all(p is None for j in jobs for x, p in j if x in (2, 3))  # limit:, json
    read_dir, n = read_shards(recipe, tmp_path / "work", _run_all)
    recs, excl = _read(read_dir, n)
    want_recs, want_excl = _reference(recipe, tmp_path / "ref")
    assert [r["id"] for r in recs] == [r["id"] for r in want_recs]
    assert recs == want_recs and excl == want_excl
    ids = [r["id"] for r in recs]
    # hand count: ``run`` on lines 20-31 less 22 (latin-1), 24, 31 (not JSON), 27 (blank);
    # ``k1`` on lines 1, 13, 37, 41, 53 (5, 49 blank, 17, 45 not JSON, 25, 29 ``run``)
    assert "main:run#7" in ids and "main:run#8" not in ids and "main2:run#7" in ids
    assert "main:k1#4" in ids and "main:k1#5" not in ids
    assert "main:0" in ids and "main:3" not in ids  # line 3 is malformed: an exclusion
    assert {e["reason"].split(":")[0] for e in excl} >= {
        "unreadable row", "row is not an object"}
    assert sum(r["source"] == "limited" for r in recs) == 5
    # the scratch files of steps 1-3 are gone once the step is done
    assert sorted(p.name for p in read_dir.iterdir() if p.is_dir()) == []


def test_control_pieces_in_the_wrong_order_change_the_ids(tmp_path, small_pieces,
                                                           monkeypatch):
    """Seen to fail: jobs numbered in reverse order, or pieces that forget their first
    line number, no longer give one stream's ids."""
    recipe = _recipe(tmp_path)
    want = _named(_reference(recipe, tmp_path / "ref")[0])
    plan = read_pieces.plan
    monkeypatch.setattr(read_pieces, "plan", lambda *a: plan(*a)[::-1])
    read_dir, n = read_shards(recipe, tmp_path / "w1", _run_all)
    got = _named(_read(read_dir, n)[0])
    assert got != want  # the same ids, but the n-th repeat names another row
    assert sorted(i for _, i in got) == sorted(i for _, i in want)
    monkeypatch.setattr(read_pieces, "plan", plan)
    split = SPLITS["jsonl"]
    monkeypatch.setitem(SPLITS, "jsonl", lambda path, size: [
        ({**p, "line": 0}, w) for p, w in split(path, size)])
    read_dir, n = read_shards(recipe, tmp_path / "w2", _run_all)
    assert _named(_read(read_dir, n)[0]) != want
    monkeypatch.setitem(SPLITS, "jsonl", split)  # the check itself: back to equal
    read_dir, n = read_shards(recipe, tmp_path / "w3", _run_all)
    assert _named(_read(read_dir, n)[0]) == want


def _named(recs: list[dict]) -> list[tuple[str, str]]:
    """(row content, id) pairs in content order: which row got which id."""
    return sorted((json.dumps([r["source"], r["messages"]], sort_keys=True), r["id"])
                  for r in recs)


def test_parquet_row_groups_folder_chunks_and_tars_equal_one_stream(tmp_path, monkeypatch):
    import io
    import tarfile

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    pq.write_table(pa.table({"id": [f"p{i % 5}" if i % 4 else None for i in range(40)],
                             "question": [f"Q{i}" for i in range(40)],
                             "answer": ["A"] * 40}), tmp_path / "t.parquet", row_group_size=6)
    folder = tmp_path / "imgs" / "cls"
    folder.mkdir(parents=True)
    for i in range(7):
        Image.new("L", (4, 4), i * 30).save(folder / f"im{i}.png")
    (folder / "im3.txt").write_bytes(b"\xff\xfe bad caption")  # an exclusion mid-chunk
    png = io.BytesIO()
    Image.new("L", (4, 4), 7).save(png, format="PNG")
    (tmp_path / "tars").mkdir()
    for t in range(3):  # the same embedded image in every tar: saved by each job
        with tarfile.open(tmp_path / "tars" / f"part{t}.tar", "w") as tf:
            for k in range(2):
                for ext, data in (("png", png.getvalue()), ("txt", f"cap {t}-{k}".encode())):
                    info = tarfile.TarInfo(f"s{k}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(read_pieces, "PIECE_BYTES", 300)
    monkeypatch.setattr(read_pieces, "FOLDER_FILES", 2)
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", [
        {"name": "pq", "path": "t.parquet"}, {"name": "im", "path": "imgs"},
        {"name": "wds", "path": "tars", "format": "webdataset"}], [], shard_size=3))
    local = [tmp_path / "t.parquet", tmp_path / "imgs", tmp_path / "tars"]
    pieces = [p for j in read_pieces.plan(recipe.inputs, local, 300) for _, p in json.loads(j)]
    assert sum("groups" in p for p in pieces) >= 3 and sum("first" in p for p in pieces) == 4
    assert sum("tar" in p for p in pieces) == 3
    read_dir, n = read_shards(recipe, tmp_path / "work", _run_all)
    # the same work folder: embedded images are saved under it, by content
    assert _read(read_dir, n) == _reference(recipe, tmp_path / "work")


def test_the_driver_never_runs_a_reader(tmp_path, small_pieces, monkeypatch):
    """Local executor with two worker processes: the driver hands out read_piece jobs
    and a reader called in the driver process would fail the run."""
    from lingshu.data.curate import executors, readers

    recipe = _recipe(tmp_path)
    want_recs, want_excl = _reference(recipe, tmp_path / "ref")
    driver = os.getpid()
    kinds: list[str] = []
    run = executors.LocalExecutor.run

    def spy(self, jobs):
        kinds.extend(j.get("kind", "segment") for j in jobs)
        return run(self, jobs)

    def guard(original):
        def reader(*a, **kw):
            if os.getpid() == driver:
                raise AssertionError("a reader ran on the driver")
            return original(*a, **kw)
        return reader

    monkeypatch.setattr(executors.LocalExecutor, "run", spy)
    for mod in (readers, read_pieces):
        monkeypatch.setattr(mod, "read_input", guard(mod.read_input))
    for name in list(readers.READERS):
        monkeypatch.setitem(readers.READERS._items, name, guard(readers.READERS.get(name)))
    res = run_recipe(recipe, workers=2)
    assert kinds.count("read_piece") >= 6
    rows, excl = read_out(Path(res.out_dir))
    assert res.kept == len(want_recs) == len(rows)
    assert [e["id"] for e in excl] == [e["id"] for e in want_excl]


KILLER = """
import os, signal, sys
from pathlib import Path
from lingshu.data.curate import load_recipe, read_pieces, read_step, stage_files
from lingshu.data.curate.read_step import read_shards
from lingshu.data.curate.shards import run_job
read_pieces.PIECE_BYTES = int(sys.argv[3])
where, at = sys.argv[4].split(":")
count = [0]
def hook(fn, counts=lambda a: True):
    def wrapped(*a, **kw):
        count[0] += counts(a)
        if count[0] == int(at):
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*a, **kw)
    return wrapped
if where == "write":  # a shard file of a piece job (mid-job)
    read_pieces.write_stage = hook(read_pieces.write_stage)
elif where == "rename":  # the driver numbering the shards
    def moved(a):  # a job's shard into raw/ or keys/ (not a temporary file's rename)
        return "/pieces/" in str(a[0]) and "/pieces/" not in str(a[1])
    os.replace = hook(os.replace, moved)
elif where == "job":  # between jobs of every kind
    run_job = hook(run_job)
elif where == "scratch":  # after done.json, while removing the scratch folders
    read_step.shutil.rmtree = hook(read_step.shutil.rmtree)
read_shards(load_recipe(Path(sys.argv[1])), Path(sys.argv[2]), lambda js: [run_job(j) for j in js])
"""


def test_kill_9_anywhere_in_the_read_step_resumes_to_one_stream(tmp_path, small_pieces):
    recipe = _recipe(tmp_path, shard_size=3)
    want = _reference(recipe, tmp_path / "ref")
    for point in ("write:2", "write:9", "job:4", "rename:3", "job:13", "scratch:2"):
        work = tmp_path / point.replace(":", "-")
        proc = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path / "r.yaml"),
                               str(work), str(PIECE), point], capture_output=True, timeout=120)
        assert proc.returncode == -9, (point, proc.stderr.decode()[-2000:])
        read_dir, n = read_shards(recipe, work, _run_all)
        assert _read(read_dir, n) == want, point


def test_workers_saving_the_same_embedded_image_at_once(tmp_path):
    """Read jobs in several workers save embedded images by content: the same image
    written by 8 threads at once leaves one whole file and no temporary file."""
    from concurrent.futures import ThreadPoolExecutor

    from lingshu.data.curate.readers import ReaderContext
    from lingshu.data.curate.recipe import InputSpec

    data = os.urandom(2_000_000)
    ctxs = [ReaderContext(InputSpec(name="w", path="x"), tmp_path, tmp_path / "images",
                          tmp_path) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        paths = set(pool.map(lambda c: c.save_bytes(data, "png"), ctxs))
    assert len(paths) == 1 and Path(paths.pop()).read_bytes() == data
    assert [p.name for p in (tmp_path / "images").iterdir()] == [
        f"{hashlib.sha256(data).hexdigest()[:32]}.png"]


def test_outputs_of_a_multi_job_read_equal_the_one_job_read(tmp_path, monkeypatch):
    """Shard boundaries move where a job ends; the published outputs do not change: the
    rows (data shards concatenated), summary.json, the lines of exclusions.jsonl."""
    recipe = _recipe(tmp_path, shard_size=4)
    ops = [{"op": "text_dedup"}, {"op": "language_id", "min_chars": 1000}]
    outs = {}
    for name, size in (("one", 10**9), ("many", PIECE)):
        monkeypatch.setattr(read_pieces, "PIECE_BYTES", size)
        r = load_recipe(write_recipe(tmp_path / f"{name}.yaml",
                                     [s.model_dump(mode="json") for s in recipe.inputs], ops,
                                     out=name, shard_size=4))
        run_recipe(r)
        outs[name] = tmp_path / name
    assert len(list((outs["many"] / "data").glob("shard-*"))) > \
        len(list((outs["one"] / "data").glob("shard-*")))  # the boundaries did move
    (rows, excl), (want_rows, want_excl) = read_out(outs["many"]), read_out(outs["one"])
    assert rows == want_rows and len(rows) > 20
    # exclusions.jsonl lists each shard's exclusions in turn (read, then each op's), so
    # its lines follow the shards: the same lines, the order within changes
    assert sorted(map(json.dumps, excl)) == sorted(map(json.dumps, want_excl))
    assert {e["op"] for e in excl} == {"read", "text_dedup"} and excl != want_excl
    assert json.loads((outs["many"] / "summary.json").read_text()) == \
        json.loads((outs["one"] / "summary.json").read_text())


@pytest.mark.parametrize("block", [1, 7, 64, 2**20])
def test_jsonl_ranges_start_at_lines_and_know_their_line_numbers(tmp_path, monkeypatch, block):
    """Against the file itself: the ranges tile it, each starts after a newline, its line
    number is the newlines before it, and each but the last holds the target and at most
    the rest of the line it ends in (lines here are at most 301 bytes)."""
    import random

    rng = random.Random(block)
    data = b"".join(b"x" * rng.choice([0, 1, 5, 40, 300]) + b"\n" for _ in range(400)) + b"tail"
    (tmp_path / "f.jsonl").write_bytes(data)
    monkeypatch.setattr(read_pieces, "BLOCK", block)
    for target in (1, 50, 333, 5000, len(data) + 1):
        pieces = [p for p, _ in SPLITS["jsonl"](tmp_path / "f.jsonl", target)]
        assert [p["start"] for p in pieces[1:]] == [p["end"] for p in pieces[:-1]]
        assert pieces[0]["start"] == 0 and pieces[-1]["end"] == len(data)
        for p in pieces:
            assert p["start"] == 0 or data[p["start"] - 1:p["start"]] == b"\n"
            assert p["line"] == data[:p["start"]].count(b"\n")
        assert all(target <= p["end"] - p["start"] <= target + 301 for p in pieces[:-1])
        assert len(pieces) > 1 or target > 333
