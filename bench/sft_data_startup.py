"""SFT start-up at scale: time to the first optimizer step and peak RSS of one rank, for the
lazy length-indexed data (``train/data/lazy.py``) at 100K and 1M synthetic samples against
the former eager loader (every image decoded and processed before step 1) at 10K.

Issue 19: the eager loader kept fp32 pixels of every sample in every rank's memory and took
hours before step 1 at the paper's scale. Targets: first step under 2 minutes at 1M samples,
RSS growth under 300 MB from 100K to 1M.

The data: a JSONL of Qwen-messages rows (the curation output format), two thirds with one
image, referencing 300 real small PNG files by path (reused: the images are never decoded
by the lazy length pass, only their headers are read, once per file); questions and answers
of varied lengths. Each arm runs in its own process (``--child``) on the tiny Qwen2.5-VL
through ``run_sft_stage`` with ``stop_after=1``; ``cold`` builds the length index, ``warm``
finds it cached (a restarted or resumed stage). Peak RSS is the child's ``ru_maxrss``;
``data s`` is the data set-up alone (the length pass, or the eager encoding), ``CPU s`` the
child's CPU time (the machine's load stretches wall times, not CPU times).

The cold arms run once per ``--index-processes`` setting: ``default`` is what a stage with
``data_workers`` set does (here ``--workers``, so ``--workers`` + 1 processes for the length
pass, ``train/data/index_pool.py``), a number forces that many (``1``: the serial pass in the
training process, as before). The worker processes' peak RSS is reported by the pass itself.

    python bench/sft_data_startup.py                       # 10K eager, 100K and 1M lazy
    python bench/sft_data_startup.py --lazy 10000 --eager 0
    python bench/sft_data_startup.py --eager 0 --index-processes default,1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_data(folder: Path, n: int, n_images: int = 300) -> Path:
    """``n`` rows in ``folder/train-<n>.jsonl``; the images once in ``folder/images``."""
    import numpy as np
    from PIL import Image

    images = folder / "images"
    if not images.is_dir():
        images.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for k in range(n_images):
            w, h = int(rng.integers(56, 85)), int(rng.integers(56, 85))
            Image.fromarray(rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)).save(images / f"{k}.png")
    path = folder / f"train-{n}.jsonl"
    if path.is_file():
        return path
    rng = random.Random(n)
    words = "lung heart liver kidney chest abdomen fracture lesion normal opacity left right upper lower".split()
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as fh:
        for i in range(n):
            q = " ".join(rng.choice(words) for _ in range(rng.randint(4, 40)))
            a = " ".join(rng.choice(words) for _ in range(rng.randint(2, 30)))
            content = [{"type": "text", "text": f"{q}?"}]
            if i % 3:
                content.insert(0, {"type": "image", "image": f"images/{rng.randrange(n_images)}.png"})
            fh.write(json.dumps({"id": f"s{i}", "messages": [{"role": "user", "content": content},
                                 {"role": "assistant", "content": [{"type": "text", "text": a}]}]}) + "\n")
    tmp.replace(path)
    return path


def child(args: argparse.Namespace) -> None:
    """One arm in this process: prints a JSON line with its figures."""
    t0 = time.perf_counter()
    from lingshu.train.config import SFTStageConfig
    from lingshu.train.sft import run_sft_stage

    import lingshu.train.sft as sft

    marks: dict[str, float] = {}
    if args.mode == "eager":
        from lingshu.train.data.lazy import EagerSamples
        from lingshu.train.data.sft import load_sft_data

        def load(config, processor, seed, stage_dir, acc):  # the loader before issue 19
            t = time.perf_counter()
            samples, excl = load_sft_data(config.data, processor, max_length=config.max_length,
                                          min_pixels=config.min_pixels, max_pixels=config.max_pixels, seed=seed,
                                          keep_images=config.augment.active)
            marks["data"] = time.perf_counter() - t
            return EagerSamples(samples), excl

        sft._load_samples = load
    else:
        import logging

        import lingshu.train.data.index_pool as pool

        if args.index_processes != "default":
            real_build = pool.build_indexes

            def forced(files, counter, processes, **kw):
                return real_build(files, counter, int(args.index_processes), **kw)

            pool.build_indexes = forced

        class Stats(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                marks.update(getattr(record, "index_stats", {}))

        pool.log.addHandler(Stats())
        pool.log.setLevel(logging.INFO)
        real = sft._load_samples

        def load(*a, **k):
            t = time.perf_counter()
            out = real(*a, **k)
            marks["data"] = time.perf_counter() - t
            return out

        sft._load_samples = load

    class FirstStep:
        def write(self, rec: dict) -> None:
            marks.setdefault("step", time.perf_counter())

        def truncate_after(self, *_: object) -> None:
            pass

    cfg = SFTStageConfig(name="bench", data=[{"path": args.data}], max_steps=10, max_length=1024,
                         parts={"vision": 1e-4, "merger": 1e-4, "llm": 1e-5}, per_device_batch=1, grad_accum=8,
                         warmup_steps=1, min_pixels=3136, max_pixels=12544, data_workers=args.workers)
    run_sft_stage(cfg, model_path=Path(args.model), output_dir=Path(args.out), seed=0, precision="fp32",
                  metrics=FirstStep(), stop_after=1)
    use = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"first_step_s": round(marks["step"] - t0, 1), "data_s": round(marks["data"], 1),
                      "cpu_s": round(use.ru_utime + use.ru_stime, 1), "peak_rss_mb": round(use.ru_maxrss / 1024),
                      "children_cpu_s": round(kids.ru_utime + kids.ru_stime, 1),
                      "processes": marks.get("processes", 1), "worker_rss_mb": marks.get("worker_peak_rss_mb", 0)}))


def run_arm(mode: str, data: Path, out: Path, model: Path, workers: int, procs: str = "default") -> dict:
    cmd = [sys.executable, __file__, "--child", "--mode", mode, "--data", str(data), "--out", str(out),
           "--model", str(model), "--workers", str(workers), "--index-processes", procs]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lazy", default="100000,1000000", help="sample counts for the lazy data")
    parser.add_argument("--eager", type=int, default=10000, help="sample count for the eager loader (0: skip)")
    parser.add_argument("--dir", default="/tmp/lingshu-sft-startup", help="data, model and runs go here")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers of the lazy arms")
    parser.add_argument("--index-processes", default="default",
                        help="comma-separated settings for the cold arms' length pass: 'default' (data_workers + 1) "
                             "or a process count (1: serial)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for k in ("mode", "data", "out", "model"):
        parser.add_argument(f"--{k}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    import shutil

    from lingshu.models import build_tiny_qwen2_5_vl

    root = Path(args.dir)
    model = root / "tiny-qwen2_5_vl"
    if not (model / "model.safetensors").is_file():
        build_tiny_qwen2_5_vl(model, seed=0)
    settings = [x.strip() for x in args.index_processes.split(",") if x.strip()]
    arms = ([("eager", args.eager, "-", "-")] if args.eager else [])
    for n in (int(s) for s in args.lazy.split(",") if s):
        arms += [("lazy", n, "cold", procs) for procs in settings] + [("lazy", n, "warm", settings[0])]
    print(f"{os.cpu_count()} CPUs; one rank; tiny Qwen2.5-VL; lazy arms with {args.workers} DataLoader "
          f"worker(s); index processes {args.index_processes}", flush=True)
    print(f"{'loader':>7} {'samples':>9} {'index':>6} {'procs':>5} {'load':>5} {'first step s':>13} {'data s':>8} "
          f"{'CPU s':>7} {'kids CPU s':>10} {'peak RSS MB':>12} {'worker RSS MB':>14}", flush=True)
    rows = []
    for mode, n, cache, procs in arms:
        data = write_data(root, n)
        out = root / "runs" / f"{mode}-{n}"
        if cache != "warm" and out.exists():
            shutil.rmtree(out)  # cold: no length index yet
        load = os.getloadavg()[0]
        got = run_arm(mode, data, out, model, args.workers, procs if mode == "lazy" else "default")
        rows.append((mode, n, cache, got))
        if "error" in got:
            print(f"{mode:>7} {n:>9} {cache:>6} {procs:>5} failed: {got['error']}", flush=True)
        else:
            used = got["processes"] if cache == "cold" else "-"
            print(f"{mode:>7} {n:>9} {cache:>6} {used:>5} {load:>5.1f} {got['first_step_s']:>13} {got['data_s']:>8} "
                  f"{got['cpu_s']:>7} {got['children_cpu_s']:>10} {got['peak_rss_mb']:>12} "
                  f"{got['worker_rss_mb'] or '-':>14}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}", flush=True)
    lazy: dict = {}
    for m, n, c, g in rows:  # the first arm of each (samples, index): the default setting
        if m == "lazy" and "error" not in g:
            lazy.setdefault((n, c), g)
    ns = sorted({n for n, _ in lazy})
    if len(ns) >= 2:
        lo, hi = ns[0], ns[-1]
        for c in ("cold", "warm"):
            if (lo, c) in lazy and (hi, c) in lazy:
                a, b = lazy[(lo, c)], lazy[(hi, c)]
                print(f"{c}: {lo} -> {hi} samples: RSS +{b['peak_rss_mb'] - a['peak_rss_mb']} MB, "
                      f"first step x{b['first_step_s'] / a['first_step_s']:.2f}")
    eager = [g for m, n, c, g in rows if m == "eager" and "error" not in g]
    if eager and ns and (ns[-1], "cold") in lazy:
        e, big = eager[0], lazy[(ns[-1], "cold")]
        per = e["data_s"] / args.eager
        print(f"eager at {args.eager}: {per * 1e3:.2f} ms of data loading per sample -> about "
              f"{per * ns[-1] / 60:.0f} min at {ns[-1]}; lazy (cold) took {big['data_s'] / 60:.1f} min "
              f"(ratio {per * ns[-1] / big['data_s']:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
