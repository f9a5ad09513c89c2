"""A cached rerun against the first run of the same evaluation, in one process.

Runs ``lingshu eval`` twice with the same configuration (SmolLM2-135M-Instruct through
the ``hf`` backend on N bundled MedMCQA questions), each into a fresh run directory but
sharing one response cache: the first run generates every answer, the second finds all of
them in the SQLite cache and never loads the model's weights. Prints both wall times,
their ratio (target >= 100x) and checks that the two runs' metrics are identical.

    python bench/eval_cache.py            # 200 questions
    python bench/eval_cache.py --n 64
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="questions (MedMCQA bundled sample)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    args = ap.parse_args()

    from lingshu.eval import EvalConfig, run_eval
    from lingshu.inference import GenerationParams

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = EvalConfig(
            benchmarks=["medmcqa"],
            data_dir=REPO / "data" / "benchmarks",
            limit=args.n,
            backend="hf",
            backend_options={"model": "smollm2-135m-instruct", "batch_size": args.batch_size},
            generation=GenerationParams(max_new_tokens=args.max_new_tokens),
            cache_path=tmp / "responses.sqlite",
        )
        t0 = time.perf_counter()
        first = run_eval(cfg, tmp / "first", progress=False)
        t1 = time.perf_counter()
        second = run_eval(cfg, tmp / "second", progress=False)
        t2 = time.perf_counter()
    hits = second.stats["medmcqa"].cache_hits
    first_s, second_s = t1 - t0, t2 - t1
    print(f"questions:          {args.n}")
    print(f"first run:          {first_s:8.2f} s  (model load + generation)")
    print(f"cached rerun:       {second_s:8.3f} s  ({hits} cache hits, weights never loaded)")
    print(f"speed-up:           {first_s / second_s:8.1f}x  (target >= 100x)")
    same = first.metrics == second.metrics
    print(f"identical metrics:  {same}")
    return 0 if same and hits == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
