"""Curation at scale: the text and image recipes through ``lingshu data run``'s code path,
measuring wall time, records per second per core, driver and worker peak RSS, disk used,
and a linear projection to 5M records.

Text recipe: exact + MinHash dedup (``text_dedup``), decontamination against the bundled
benchmarks, de-identification; synthetic records from ``bench/dedup_text.py``'s corpus
(planted exact and near copies). Image recipe: decodable, min side, pHash, pHash dedup,
decontamination, modality labelling; the image set of ``bench/dedup_images.py`` (the
bundled real images with re-encoded / resized / cropped copies, then generated images).

Each size runs in a fresh process (``--one``), so the driver's peak RSS is that run's:
``ru_maxrss`` of the process itself (driver) and of its finished children (the local
executor's worker processes, with ``--workers`` > 1).

    PYTHONPATH=src python bench/curation_scale.py --text 100000 400000 --images 2000 \\
        --workers 2
    PYTHONPATH=src python bench/curation_scale.py --text 100000 1000000 --text-ops dedup \\
        --images --workers 2

Besides wall time it prints records per CPU-second (user + system time of the driver and
its workers), which a shared machine's load does not inflate, the 1-minute load average,
(image recipe) decode + pHash images per second in one process, and the read step's own
wall time, the driver's CPU time in it and the driver's peak RSS when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

BENCH = ROOT / "data" / "benchmarks"


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


TEXT_OPS = {"full": [{"op": "text_dedup"}, {"op": "decontaminate", "data_dir": str(BENCH)},
                     {"op": "deidentify"}],
            "dedup": [{"op": "text_dedup"}]}
"""``--text-ops dedup``: the dedup alone, to see the driver's memory at 1M records in a
fraction of the full recipe's time (de-identification dominates that)."""


def text_recipe(work: Path, n: int, shard: int, ops: str = "full") -> dict:
    from dedup_text import make_corpus

    src = work / "text.jsonl"
    texts, _ = make_corpus(n)
    with src.open("w") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"id": str(i), "question": t, "answer": "See the notes."}) + "\n")
    return {"name": "scale-text", "inputs": [{"name": "t", "path": str(src), "task": "text"}],
            "ops": TEXT_OPS[ops],
            "output": {"dir": str(work / "out"), "shard_size": shard, "plots": False}}


def image_recipe(work: Path, n: int, shard: int) -> dict:
    from dedup_images import build

    kinds = build(work / "imgset", n)
    src = work / "images.jsonl"
    with src.open("w") as fh:
        for name in sorted(kinds)[:n]:
            fh.write(json.dumps({"id": name, "image": str(work / "imgset" / "images" / name),
                                 "question": "Describe the image.", "answer": ""}) + "\n")
    return {"name": "scale-images", "inputs": [{"name": "i", "path": str(src)}],
            "ops": [{"op": "image_decodable"}, {"op": "image_min_side", "min_side": 32},
                    {"op": "image_phash"}, {"op": "image_dedup"},
                    {"op": "decontaminate", "data_dir": str(BENCH)},
                    {"op": "modality_label"}],
            "output": {"dir": str(work / "out"), "shard_size": shard, "plots": False,
                       "images": "reference"}}


def decode_phash_rate(work: Path, n: int = 1000) -> tuple[float, float]:
    """Images per second of ``image_decodable`` + ``image_phash`` in this one process
    (one core), on ``n`` images spread evenly over the image set (its generated images
    sort first and are smaller than the real ones): per wall second and per CPU second of
    the process (the machine is shared: wall time includes waiting for a core)."""
    from lingshu.data.curate.ops.image import ImageDecodable, ImagePhash
    from lingshu.data.curate.record import Record, conversation

    lines = (work / "images.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines[::max(1, len(lines) // n)][:n]]
    recs = [Record(id=r["id"], source="i", messages=conversation("q", "a", [r["image"]]))
            for r in rows]
    ops = [ImageDecodable(ImageDecodable.Params()), ImagePhash(ImagePhash.Params())]
    t0, c0 = time.perf_counter(), time.process_time()
    for op in ops:
        recs, _ = op.apply(recs)
    return (round(len(rows) / (time.perf_counter() - t0), 1),
            round(len(rows) / (time.process_time() - c0), 1))


def _time_read_step(runner) -> dict:  # noqa: ANN001
    """Wrap the runner's read step: its wall time, the driver's CPU time in it (the pool's
    workers are reaped only at the end of the run, so theirs is not seen here) and the
    driver's peak RSS when it ends (filled in by the run)."""
    got: dict = {}
    read_shards = runner.read_shards

    def timed(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        c0 = time.process_time()
        out = read_shards(*a, **kw)
        got["read_step_s"] = round(time.perf_counter() - t0, 1)
        got["read_step_driver_cpu_s"] = round(time.process_time() - c0, 1)
        got["driver_peak_rss_after_read_mb"] = \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        return out

    runner.read_shards = timed
    return got


def one(kind: str, n: int, workers: int, shard: int, work: Path,
        text_ops: str = "full") -> dict:
    """One run in this process; prints its measurements as JSON."""
    from lingshu.data.curate import parse_recipe, run_recipe, runner

    shutil.rmtree(work / "out", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    # the input was made by another process (``--make``): building a million texts in
    # this one would set its peak RSS (ru_maxrss never goes down) before the run starts
    data = json.loads((work / "recipe.json").read_text())
    recipe = parse_recipe(data, work, where=f"{kind} bench")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read = _time_read_step(runner)
    t0, c0 = time.perf_counter(), time.process_time()
    res = run_recipe(recipe, workers=workers)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0 + sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    load = os.getloadavg()[0]
    rate = decode_phash_rate(work) if kind == "images" else (None, None)
    return {"kind": kind if kind == "images" else f"text-{text_ops}", "n": n,
            "workers": workers, "wall_s": round(wall, 1),
            "load_1min_after": round(load, 2), "decode_phash_images_per_s_wall": rate[0],
            "decode_phash_images_per_cpu_s": rate[1],
            "records_per_s_per_core": round(n / wall / max(workers, 1), 1),
            "records_per_cpu_s": round(n / cpu, 1),
            "kept": res.kept, "excluded": res.excluded,
            "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "driver_rss_before_run_mb": base // 1024, **read,
            "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
            "work_dir_mb": round(_du(work / "out" / ".work") / 2**20, 1),
            "output_mb": round((_du(work / "out") - _du(work / "out" / ".work")) / 2**20, 1),
            "input_mb": round(_du(work / f"{'text' if kind == 'text' else 'images'}.jsonl")
                              / 2**20, 1),
            "projected_5m_hours": round(wall / n * 5_000_000 / 3600, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", type=int, nargs="*", default=[100_000, 400_000, 1_000_000])
    ap.add_argument("--images", type=int, nargs="*", default=[20_000, 100_000])
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--shard", type=int, default=5000)
    ap.add_argument("--text-ops", choices=sorted(TEXT_OPS), default="full")
    ap.add_argument("--work", type=Path, default=Path("/tmp/lingshu-bench-curation-scale"))
    ap.add_argument("--one", nargs=3, metavar=("KIND", "N", "WORKERS"), help=argparse.SUPPRESS)
    ap.add_argument("--make", nargs=3, metavar=("KIND", "N", "_"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        kind, n = args.make[0], int(args.make[1])
        work = args.work / kind
        work.mkdir(parents=True, exist_ok=True)
        data = text_recipe(work, n, args.shard, args.text_ops) if kind == "text" else \
            image_recipe(work, n, args.shard)
        (work / "recipe.json").write_text(json.dumps(data))
        return
    if args.one:
        kind, n, w = args.one[0], int(args.one[1]), int(args.one[2])
        print(json.dumps(one(kind, n, w, args.shard, args.work / kind, args.text_ops)))
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for kind, sizes in (("text", args.text), ("images", args.images)):
        for n in sizes:
            for w in args.workers:
                subprocess.run([sys.executable, __file__, "--make", kind, str(n), "-",
                                "--shard", str(args.shard), "--work", str(args.work),
                                "--text-ops", args.text_ops], env=env, check=True)
                out = subprocess.run(
                    [sys.executable, __file__, "--one", kind, str(n), str(w), "--shard",
                     str(args.shard), "--work", str(args.work), "--text-ops", args.text_ops],
                    env=env, capture_output=True, text=True, check=False)
                line = out.stdout.strip().splitlines()[-1:] or [out.stderr.strip()[-500:]]
                print(line[0], flush=True)


if __name__ == "__main__":
    main()
