"""Issue 22, point 3: a rerun of `lingshu data run` sees every edited input. The read
step is keyed by the content of the input files, a segment by the files its ops read
(a decontamination data_dir) and the images its records reference, and the training
JSONL is rewritten, not kept. Every such key is a content hash: an edit that keeps the
size and the modification time (a byte changed in place, ``os.utime`` back) is seen too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from curation_helpers import BENCH, qa_row, rad_images, read_out, write_jsonl, write_recipe


def data_run(recipe) -> str:
    """A real rerun: a new process, so no in-process cache can hide an edit. Its log."""
    res = subprocess.run([sys.executable, "-m", "lingshu.cli.main", "-v", "data", "run", "--recipe",
                          str(recipe)], check=True, capture_output=True, timeout=300, text=True)
    return res.stdout + res.stderr


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


def edit_keeping_size_and_mtime(path) -> None:
    """Change one byte in place (same inode, same size) and put the modification time
    back: what a tool that restores times (rsync -t, tar x, cp -p) leaves behind."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    at = data.find(b"liver") + 1 if path.suffix == ".jsonl" else len(data) // 2
    data[at] ^= 0x20  # "liver" -> "lIver" in the JSONL; any byte of an image
    with path.open("r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        st.st_size, st.st_mtime_ns, st.st_ino)


def _images(out) -> dict[str, bytes]:
    """Record id -> bytes of the image its training row points at (copied into data/)."""
    rows, _ = read_out(out)
    return {r["id"]: (out / "data" / p["image"]).read_bytes()
            for r in rows for p in r["messages"][0]["content"] if p["type"] == "image"}


def test_each_kind_of_input_edited_keeping_size_and_mtime_is_seen(tmp_path):
    """One run, then three edits that keep size and modification time, each followed by
    a rerun: an image of a folder input, an image a JSONL row references, the JSONL file.
    Each rerun runs the segment again and writes what the edited file now holds."""
    (tmp_path / "imgs").mkdir()
    folder_image, referenced = tmp_path / "imgs" / "a.jpg", tmp_path / "b.jpg"
    for path, src in zip((folder_image, referenced), rad_images(2), strict=True):
        path.write_bytes(src.read_bytes())
    jsonl = write_jsonl(tmp_path / "d.jsonl",
                        [qa_row("q0", "What organ is shown?", "The liver.", referenced)])
    recipe = write_recipe(tmp_path / "r.yaml",
                          [{"name": "f", "path": "imgs", "format": "image_folder"},
                           {"name": "d", "path": "d.jsonl"}],
                          [{"op": "token_count"}])
    data_run(recipe)
    out = tmp_path / "out"
    expected = {"f:a.jpg": folder_image.read_bytes(), "d:q0": referenced.read_bytes()}
    assert _images(out) == expected
    for edited in (folder_image, referenced, jsonl):
        edit_keeping_size_and_mtime(edited)
        assert "segment 0: 1 of 1 shards to run" in data_run(recipe), edited.name
    assert _images(out) == {"f:a.jpg": folder_image.read_bytes(),
                            "d:q0": referenced.read_bytes()} != expected
    rows, _ = read_out(out)
    answer = next(r for r in rows if r["id"] == "d:q0")["messages"][-1]["content"][0]["text"]
    assert answer != "The liver." and len(answer) == len("The liver.")


def test_a_decontamination_release_edited_keeping_size_and_mtime_is_seen(tmp_path):
    """The benchmark folder an op reads (``data_dir``): its question file changes one
    character in place; the segment runs again."""
    bench = tmp_path / "bench"
    shutil.copytree(BENCH / "medqa-usmle", bench / "medqa-usmle")
    write_jsonl(tmp_path / "d.jsonl", _rows(2, "The liver."))
    recipe = write_recipe(tmp_path / "r.yaml", [{"name": "d", "path": "d.jsonl"}],
                          [{"op": "decontaminate", "data_dir": str(bench),
                            "benchmarks": ["medqa-usmle"]}])
    data_run(recipe)
    release = bench / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    st = release.stat()
    text = release.read_text()
    i = text.index('"question": "') + len('"question": "')
    release.write_text(text[:i] + ("X" if text[i] != "X" else "Y") + text[i + 1:])
    os.utime(release, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert "segment 0: 1 of 1 shards to run" in data_run(recipe)
