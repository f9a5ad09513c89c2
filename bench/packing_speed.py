"""Packing speed: ``pack_greedy`` on synthetic token lengths, up to stage 3's 7.1M samples.

Issue 19: the first-fit scan took 24 s for 40K samples and grew quadratically (stage 3 of
the 7B recipe packs 7.1M samples at 8192 tokens, on every rank at every start). The max
tree finds the same packs in O(n log n); target: 7.1M lengths in under a minute here.

Lengths are drawn log-normally (median 400 tokens, clipped to 1..8192), seeded; the fill
ratio printed is tokens / (packs x max_length). ``--with-scan N`` also times the former
scan (tests/train/test_packing.py's reference) on the first N samples and checks that both
give the same packs.

    python bench/packing_speed.py
    python bench/packing_speed.py --sizes 40000 --with-scan 40000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def lengths_for(n: int, max_length: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [min(max_length, max(1, int(rng.lognormvariate(6.0, 0.8)))) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="40000,1000000,7100000")
    parser.add_argument("--max-length", type=int, default=8192)
    parser.add_argument("--with-scan", type=int, default=0, help="also time the former scan on N")
    args = parser.parse_args(argv)
    from lingshu.train.data.packing import pack_greedy

    print(f"load average {os.getloadavg()[0]:.2f}; max_length {args.max_length}; seeded order")
    print(f"{'samples':>10} {'packs':>9} {'fill':>7} {'seconds':>8} {'CPU s':>7}")
    for n in (int(s) for s in args.sizes.split(",")):
        lengths = lengths_for(n, args.max_length)
        t0, c0 = time.perf_counter(), time.process_time()
        packs = pack_greedy(lengths, args.max_length, seed=0)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        fill = sum(lengths) / (len(packs) * args.max_length)
        print(f"{n:>10} {len(packs):>9} {fill:>7.3f} {wall:>8.2f} {cpu:>7.2f}", flush=True)
    if args.with_scan:
        sys.path.insert(0, str(REPO / "tests" / "train"))
        from test_packing import _first_fit_scan

        lengths = lengths_for(args.with_scan, args.max_length)
        order = random.Random("pack:0").sample(range(len(lengths)), len(lengths))
        t0 = time.perf_counter()
        scan = _first_fit_scan(lengths, args.max_length, order)
        wall = time.perf_counter() - t0
        same = scan == pack_greedy(lengths, args.max_length, seed=0)
        print(f"former scan on {args.with_scan}: {wall:.2f} s, {len(scan)} packs, same packs: {same}")
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
