"""Issue 22, rerun identity of evaluation: the response cache keys an image by the SHA-256
of its bytes. An image edited in place, keeping its size and modification time (a byte
changed, ``os.utime`` back), misses the cache: the samples that show it are asked again,
the others still come from the cache."""

from __future__ import annotations

import json
import os
import shutil

from test_runner import CountingBackend

from lingshu.eval.benchmarks import get_benchmark
from lingshu.eval.config import EvalConfig
from lingshu.eval.runner import run_eval

BENCH = "slake"
LIMIT = 12


def _cfg(data_dir, tmp_path) -> EvalConfig:
    return EvalConfig(benchmarks=[BENCH], data_dir=data_dir, backend="dummy", limit=LIMIT,
                      cache_path=tmp_path / "cache.sqlite", bootstrap_resamples=100)


def _cached(run) -> dict[str, bool]:
    lines = (run / "samples" / f"{BENCH}.jsonl").read_text().splitlines()
    return {r["sample_id"]: r["cached"] for r in map(json.loads, lines)}


def test_an_image_edited_keeping_size_and_mtime_misses_the_cache(data_dir, tmp_path):
    bench = tmp_path / "bench"
    shutil.copytree(data_dir / BENCH, bench / BENCH)
    samples = get_benchmark(BENCH).load(bench)[:LIMIT]
    image = samples[0].images[0]
    showing = {s.id for s in samples if image in s.images}
    assert 0 < len(showing) < LIMIT  # some samples show it, others do not
    run_eval(_cfg(bench, tmp_path), tmp_path / "r1", backend=CountingBackend(), progress=False)

    st = os.stat(image)
    data = bytearray(open(image, "rb").read())
    data[len(data) // 2] ^= 0xFF
    with open(image, "r+b") as fh:
        fh.write(data)
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (os.stat(image).st_size, os.stat(image).st_mtime_ns) == (st.st_size, st.st_mtime_ns)

    again = CountingBackend()
    run_eval(_cfg(bench, tmp_path), tmp_path / "r2", backend=again, progress=False)
    assert again.calls == len(showing)
    cached = _cached(tmp_path / "r2")
    assert {sid for sid, hit in cached.items() if not hit} == showing
