"""``lingshu eval run --data-parallel 2``: two real Ray workers (a local cluster of CPU
processes) give exactly the run one process gives, and fill the shared response cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[3] / "data" / "benchmarks"


def _eval(out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [
        sys.executable, "-m", "lingshu.cli.main", "eval", "run",
        "-b", "medmcqa", "-b", "vqa-rad", "--split", "vqa-rad=train", "--data-dir", str(DATA), "--limit", "7",
        "--backend", "dummy", "--cache", str(cache), "-o", str(out), "--quiet", *extra,
    ]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def _records(run_dir: Path) -> dict[str, list[dict]]:
    return {
        p.name: [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted((run_dir / "samples").glob("*.jsonl"))
    }


def test_two_ray_workers_equal_one_process_and_share_the_cache(tmp_path):
    single = _eval(tmp_path / "single", tmp_path / "single.sqlite")
    assert single.returncode == 0, single.stderr
    parallel = _eval(tmp_path / "dp", tmp_path / "dp.sqlite", "--data-parallel", "2")
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    # Both shards really ran, each on its half of the samples.
    shard_records = [
        _records(tmp_path / "dp" / "shards" / f"{i}of2") for i in range(2)
    ]
    assert all(sum(len(v) for v in r.values()) > 0 for r in shard_records)
    a, b = _records(tmp_path / "single"), _records(tmp_path / "dp")
    assert set(a) == set(b) and all(len(v) == 7 for v in a.values())
    volatile = {"latency_s", "cached", "timestamp", "time"}
    strip = lambda recs: [{k: v for k, v in r.items() if k not in volatile} for r in recs]  # noqa: E731
    assert {k: strip(v) for k, v in a.items()} == {k: strip(v) for k, v in b.items()}
    metrics = lambda d: json.loads((d / "metrics.json").read_text())  # noqa: E731
    assert metrics(tmp_path / "single") == metrics(tmp_path / "dp")
    # The workers wrote one shared cache: a single-process rerun on it is all hits.
    rerun = _eval(tmp_path / "rerun", tmp_path / "dp.sqlite")
    assert rerun.returncode == 0, rerun.stderr
    records = [r for v in _records(tmp_path / "rerun").values() for r in v]
    assert records and all(r.get("cached") for r in records), records[0]


def test_data_parallel_and_shard_exclude_each_other(tmp_path):
    res = _eval(tmp_path / "x", tmp_path / "c.sqlite", "--data-parallel", "2", "--shard", "0/2")
    assert res.returncode != 0
    assert "exclude each other" in res.stderr and "Traceback" not in res.stderr
