"""The curation read step alone (``read_shards``) on one JSONL input, local executor:
wall time, the driver's CPU time, the workers' CPU time (reaped when the pool closes) and
the driver's peak RSS. Runs on any checkout (main's too), so a read step before and
after a change can be timed on the same file:

    PYTHONPATH=src python bench/read_step.py INPUT.jsonl --workers 2 --work /tmp/rs
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("input", type=Path)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--shard", type=int, default=5000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lingshu-bench-read-step"))
    args = ap.parse_args()
    from lingshu.data.curate import parse_recipe
    from lingshu.data.curate.executors import make_executor
    from lingshu.data.curate.read_step import read_shards

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    recipe = parse_recipe({"name": "read", "ops": [],
                           "inputs": [{"name": "t", "path": str(args.input.resolve())}],
                           "output": {"dir": str(args.work / "out"), "shard_size": args.shard,
                                      "plots": False}}, args.work, where="read bench")
    ex = make_executor("local", [], workers=args.workers)
    t0, c0 = time.perf_counter(), time.process_time()
    _, n = read_shards(recipe, args.work / "out" / ".work", ex.run)
    wall = time.perf_counter() - t0
    ex.close()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"workers": args.workers, "shards": n, "wall_s": round(wall, 2),
                      "driver_cpu_s": round(time.process_time() - c0, 2),
                      "worker_cpu_s": round(kids.ru_utime + kids.ru_stime, 2),
                      "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                      // 1024}))


if __name__ == "__main__":
    main()
