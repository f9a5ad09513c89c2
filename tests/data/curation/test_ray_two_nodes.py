"""A real two-node Ray cluster on this machine (``ray start --head`` plus a second
``ray start --address`` with its own temp dir and a ``node2`` resource), the curation job
submitted to it: its shard jobs run on both nodes and the outputs are byte-equal to a
local run. The cluster is always stopped: the fixture ends the two ``ray start --block``
processes it started and every process below them, by process id (never ``ray stop``,
which would stop other clusters on the machine)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from curation_helpers import REPO, rad_images, read_out, write_jsonl, write_recipe

from lingshu.data.curate import load_recipe, run_recipe

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as fh:
        proc = subprocess.Popen([RAY, "start", *args, "--block", "--disable-usage-stats"],
                                env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 60
    while "Ray runtime started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ray start failed: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    return proc


@pytest.fixture
def two_nodes(monkeypatch):
    port = _free_port()
    # token authentication with Ray's own token (its file, or one it makes): a token of the
    # test's own would stay cached in this process and lock later local clusters out
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "RAY_AUTH_MODE": "token"}
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    dirs = [tempfile.mkdtemp(prefix="lsray", dir="/tmp") for _ in range(2)]  # short: sockets
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_start(["--head", "--num-cpus", "1", "--port", str(port), "--temp-dir",
                             dirs[0], "--include-dashboard=false"], env, Path(dirs[0]) / "log"))
        procs.append(_start(["--address", f"127.0.0.1:{port}", "--num-cpus", "1",
                             "--resources", '{"node2": 1}', "--temp-dir", dirs[1]],
                            env, Path(dirs[1]) / "log"))
        yield f"127.0.0.1:{port}"
    finally:
        import ray

        ray.shutdown()
        pids = [p for proc in procs for p in _descendants(proc.pid)]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)  # ray start --block stops its processes
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.mark.slow
def test_two_node_cluster_equals_local(tmp_path, two_nodes):
    rows = [{"id": p.stem, "image": str(p), "question": "Describe the image.",
             "answer": f"Finding {i % 7} in image {p.stem}."} for i, p in enumerate(rad_images(24))]
    rows += [{"id": f"dup{i}", "image": str(p), "question": "Describe the image.",
              "answer": "A copy."} for i, p in enumerate(rad_images(6))]
    rows += [{"id": f"t{i}", "question": f"Which drug treats condition {i % 9} in adults?",
              "answer": "See the guideline."} for i in range(30)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    ops = [{"op": "image_decodable"}, {"op": "image_phash"}, {"op": "image_dedup", "threshold": 4},
           {"op": "text_dedup"}, {"op": "deidentify"}]
    inputs = [{"name": "mix", "path": "in.jsonl"}]
    local = write_recipe(tmp_path / "local.yaml", inputs, ops, out="local", shard_size=6)
    cluster = write_recipe(tmp_path / "cluster.yaml", inputs, ops, out="cluster", shard_size=6)
    run_recipe(load_recipe(local))
    run_recipe(load_recipe(cluster), executor="ray", address=two_nodes)
    import ray

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    [write] = list((tmp_path / "cluster" / ".work").glob("write-*"))
    nodes = {json.loads(f.read_text())["node"] for f in write.glob("shard-*.json")}
    assert len(nodes) == 2 and "local" not in nodes, nodes  # shards written on both nodes
    assert read_out(tmp_path / "cluster") == read_out(tmp_path / "local")
    assert _files(tmp_path / "cluster") == _files(tmp_path / "local")  # every output file


def _files(out: Path) -> dict[str, bytes]:
    """Every output file's bytes (the work folder left out: its files name the node that
    wrote them)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".work" not in p.relative_to(out).parts}
