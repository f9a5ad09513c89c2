"""``output.dir`` as an S3 URL, against a real S3 server (moto's, on 127.0.0.1: offline).

A recipe run with two worker processes (so data shards and image copies are written from
the workers) to ``s3://`` gives the same files, byte for byte, as the same recipe into a
local folder; a rerun runs no write job; a run cut after some shards (their markers and
objects gone) redoes only those; a run killed with SIGKILL during the writes and rerun
gives the same files too. A missing bucket and an unreachable endpoint are one-line
errors.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from curation_helpers import rad_images, write_jsonl

from lingshu.core.errors import UserError
from lingshu.data.curate import executors, out_store, parse_recipe, run_recipe

moto_server = pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")

BUCKET = "lingshu-out"


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server; the ``AWS_*`` variables point s3fs at it (workers inherit them)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    mp = pytest.MonkeyPatch()
    for k, v in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test",
                 "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        mp.setenv(k, v)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(BUCKET)
    yield fs
    mp.undo()
    server.stop()


def _recipe(tmp_path: Path, out: str, shard_size: int = 3, **output):
    imgs = rad_images(5)
    write_jsonl(tmp_path / "caps.jsonl", [
        {"id": f"c{i}", "image": str(p), "task": "caption", "question": "Describe it.",
         "answer": f"Radiograph {i}."} for i, p in enumerate([*imgs, imgs[0], imgs[1]])])
    write_jsonl(tmp_path / "notes.jsonl", [
        {"id": f"n{i}", "question": f"Note {i % 4}?", "answer": "Stable."} for i in range(9)])
    data = {"name": "s3", "inputs": [
        {"name": "caps", "path": "caps.jsonl", "task": "caption"},
        {"name": "notes", "path": "notes.jsonl", "task": "text"}],
        "ops": [{"op": "image_decodable"}, {"op": "image_phash"},
                {"op": "image_dedup", "scope": "global"}, {"op": "text_dedup"}],
        "output": {"dir": out, "shard_size": shard_size, "plots": True, **output},
        "mixtures": {"sft": {"sources": {"caps": 1.0, "notes": 1.0}, "size": 6}}}
    return parse_recipe(data, tmp_path)


def _local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != ".work"}


def _s3_files(fs, prefix: str) -> dict[str, bytes]:
    fs.invalidate_cache()
    return {k[len(prefix) + 1:]: fs.cat_file(k) for k in fs.find(prefix)}


@pytest.fixture
def write_jobs(monkeypatch):
    """The shards of every write job the executor is given (seen on the driver)."""
    seen: list[str] = []
    real = executors.LocalExecutor.run

    def run(self, jobs):  # noqa: ANN001
        seen.extend(Path(j["out"]).stem for j in jobs if j.get("kind") == "write")
        return real(self, jobs)

    monkeypatch.setattr(executors.LocalExecutor, "run", run)
    return seen


def test_s3_output_equals_local_then_reruns_and_resumes(tmp_path, s3, write_jobs):
    local = run_recipe(_recipe(tmp_path, str(tmp_path / "local")))
    want = _local_files(tmp_path / "local")
    # 7 captions (2 exact image copies dropped) + 9 notes (5 repeats of 4 questions dropped)
    assert (local.kept, local.excluded) == (9, 7)
    assert sum(k.startswith("data/images/") for k in want) == 5
    assert {"exclusions.jsonl", "summary.json", "data_card.md", "plots/modality.png",
            "mixtures/sft.jsonl", "data/shard-00005.jsonl"} <= set(want)
    url, work = f"s3://{BUCKET}/run", tmp_path / "work"
    write_jobs.clear()
    res = run_recipe(_recipe(tmp_path, url, work_dir=str(work)), workers=2)
    assert (res.out_dir, res.kept, res.excluded) == (url, 9, 7)
    assert len(write_jobs) == 6
    assert _s3_files(s3, f"{BUCKET}/run") == want
    assert not list(work.glob("write-*/upload"))  # the spooled exclusions were uploaded

    write_jobs.clear()
    run_recipe(_recipe(tmp_path, url, work_dir=str(work)), workers=2)
    assert write_jobs == []  # every shard's marker and object exist: nothing rewritten

    # a run cut after shard 1's job began: its marker (written last) and object are gone
    [marker] = work.glob("write-*/shard-00001.json")
    marker.unlink()
    s3.rm_file(f"{BUCKET}/run/data/shard-00001.jsonl")
    s3.rm_file(f"{BUCKET}/run/summary.json")
    write_jobs.clear()
    run_recipe(_recipe(tmp_path, url, work_dir=str(work)), workers=2)
    assert write_jobs == ["shard-00001"]
    assert _s3_files(s3, f"{BUCKET}/run") == want


def test_control_a_url_writer_with_other_bytes_fails_the_comparison(tmp_path, s3,
                                                                     monkeypatch):
    """Control: JSON written to the URL without the local writer's indentation (what a
    second serialiser would do) is seen by the comparison, in exactly those files."""
    run_recipe(_recipe(tmp_path, str(tmp_path / "local")))
    want = _local_files(tmp_path / "local")
    real = out_store.write_json
    monkeypatch.setattr(out_store, "write_json", lambda loc, obj: real(loc, obj) if not
                        loc.startswith("s3://") else out_store.write_text(loc, json.dumps(obj)))
    run_recipe(_recipe(tmp_path, f"s3://{BUCKET}/ctl", work_dir=str(tmp_path / "work")))
    got = _s3_files(s3, f"{BUCKET}/ctl")
    assert sorted(k for k in want if got[k] != want[k]) == ["mixtures/sft.json", "summary.json"]


def test_unreachable_endpoint_and_missing_bucket_are_one_line(tmp_path, s3, monkeypatch):
    recipe = _recipe(tmp_path, "s3://nowhere/out", work_dir=str(tmp_path / "w"))
    with pytest.raises(UserError) as e:
        run_recipe(recipe)
    assert str(e.value) == ("output.dir s3://nowhere/out: 'nowhere' does not exist; create "
                            "it (an object store's bucket) or fix output.dir")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()  # the cached one holds the server's endpoint
    try:
        with pytest.raises(UserError) as e:
            run_recipe(recipe)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("output.dir s3://nowhere/out: cannot reach it ("), msg
    assert msg.endswith("check the URL and the fsspec driver's endpoint and credentials"), msg


@pytest.mark.slow
def test_kill_9_during_the_s3_writes_then_rerun_equals_local(tmp_path, s3):
    """A real ``lingshu data run`` (two workers) killed with SIGKILL, its workers too, once
    the first data object is in the bucket; the rerun's files equal the local run's."""
    local = tmp_path / "local"
    run_recipe(_recipe(tmp_path, str(local), shard_size=1))
    want = _local_files(local)
    url, work = f"s3://{BUCKET}/killed", tmp_path / "work"
    path = tmp_path / "r.yaml"
    recipe = _recipe(tmp_path, url, shard_size=1, work_dir=str(work))
    path.write_text(yaml.safe_dump({**recipe.model_dump(mode="json", exclude={"base_dir"})}))
    cmd = [sys.executable, "-m", "lingshu.cli.main", "data", "run", "--recipe", str(path),
           "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    first = f"{BUCKET}/killed/data/shard-00000.jsonl"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        s3.invalidate_cache()
        if s3.exists(first):
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    s3.invalidate_cache()
    assert not s3.exists(f"{BUCKET}/killed/summary.json")  # cut before the driver's files
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _s3_files(s3, f"{BUCKET}/killed") == want
