"""The images' part of a step's key, computed in the workers (issue 20: nothing per record
on the driver): one ``images`` job per read shard that references an image, the driver
combining one digest per shard."""

from __future__ import annotations

import hashlib
import json

import pytest
from curation_helpers import rad_images, write_jsonl, write_recipe

from lingshu.data.curate import load_recipe
from lingshu.data.curate.read_step import read_shards
from lingshu.data.curate.shards import image_fingerprint, run_job


def _read(tmp_path, rows, shard_size=2):
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", [{"name": "d", "path": "d.jsonl"}],
                                      [], shard_size=shard_size))
    return read_shards(recipe, tmp_path / "out" / ".work", lambda js: [run_job(j) for j in js])


def _row(i, image=None):
    row = {"id": f"q{i}", "question": f"Question {i}?", "answer": "An answer."}
    if image is not None:
        row["image"] = str(image)
    return row


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()


def test_jobs_only_for_shards_with_images_and_the_digest_by_hand(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(rad_images(1)[0].read_bytes())
    b.write_bytes(b"not even an image")
    # shards of 2: [q0, q1 a], [q2, q3], [q4 b, q5 a]
    read_dir, n = _read(tmp_path, [_row(0), _row(1, a), _row(2), _row(3), _row(4, b),
                                   _row(5, a)])
    jobs: list[dict] = []

    def run(js):
        jobs.extend(js)
        for j in js:
            run_job(j)

    key = image_fingerprint(read_dir, run)
    assert n == 3 and [j["src"].rsplit("/", 1)[1] for j in jobs] == [
        "shard-00000.jsonl.gz", "shard-00002.jsonl.gz"]
    assert {j["kind"] for j in jobs} == {"images"}
    # by hand: per shard, sorted [path, SHA-256 of its bytes]; then [shard, digest] pairs
    da, db = _sha(a.read_bytes()), _sha(b.read_bytes())

    def canon(obj):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

    shard0 = _sha(canon([[str(a), da]]))
    shard2 = _sha(canon(sorted([[str(a), da], [str(b), db]])))
    assert key == _sha(canon([[0, shard0], [2, shard2]]))
    # one byte of one image changes the key; the same bytes again give the old key
    b.write_bytes(b"not even an imagE")
    assert image_fingerprint(read_dir, run) != key
    b.write_bytes(b"not even an image")
    assert image_fingerprint(read_dir, run) == key


def test_text_only_shards_run_no_job(tmp_path):
    read_dir, n = _read(tmp_path, [_row(i) for i in range(5)])
    seen: list[dict] = []
    assert n == 3
    assert image_fingerprint(read_dir, seen.extend) == _sha("[]") and seen == []


def test_a_digest_left_by_an_earlier_run_is_never_used(tmp_path):
    """Control for the run token: an executor that skipped the jobs leaves the previous
    run's files, which the driver refuses rather than key the steps by old images."""
    a = tmp_path / "a.jpg"
    a.write_bytes(b"bytes")
    read_dir, _ = _read(tmp_path, [_row(0, a)])
    image_fingerprint(read_dir, lambda js: [run_job(j) for j in js])
    a.write_bytes(b"other bytes")
    with pytest.raises(RuntimeError, match=r"images/shard-00000\.json: not written by this run"):
        image_fingerprint(read_dir, lambda js: None)
