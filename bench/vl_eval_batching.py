"""Vision-language evaluation, batched against one request at a time, in one process.

The ``hf`` backend on Lingshu-Nano (built offline, ``lingshu.models.ensure_nano_dir``)
answers the bundled VQA-RAD and SLAKE questions with their images (``data/benchmarks``),
with the prompts of the ``strict`` profile and greedy decoding, twice over the same
requests:

1. batched: the inference engine's length-sorted, left-padded batches (``--batch-size``);
2. one at a time: the same backend with ``batch_size=1``, one request per call, which is
   how MedEvalKit's HF path evaluates.

Both backends share nothing but the weights on disk; each gets one warm-up call, then they
alternate chunk by chunk so load drift on a shared machine hits both alike. Prints
samples/s, the ratio (target >= 2x) and checks that the greedy answers are identical (exit
status 1 if not).

    python bench/vl_eval_batching.py                    # 48 questions, batch 16, 16 tokens
    python bench/vl_eval_batching.py --n 24 --batch-size 8 --max-new-tokens 8
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "benchmarks"


def load_requests(n: int) -> list[Any]:
    """Alternating VQA-RAD (bundled train rows) and SLAKE (bundled test sample) questions."""
    from lingshu.eval import get_benchmark, get_profile
    from lingshu.inference import Request

    profile = get_profile("strict")
    vqa_rad = get_benchmark("vqa-rad").load(DATA, split="train")
    slake = get_benchmark("slake").load(DATA)
    samples = [s for pair in zip(vqa_rad, slake) for s in pair][:n]
    return [Request(id=s.id, messages=profile.build_messages(s)) for s in samples]


def answers(backend: Any, requests: list[Any], params: Any, one_by_one: bool) -> list[str]:
    if one_by_one:
        responses = [backend.generate([r], params)[0] for r in requests]
    else:
        responses = backend.generate(requests, params)
    errors = [r.error for r in responses if r.error]
    if errors:
        sys.exit(f"the hf backend reported errors: {errors[:3]}")
    return [r.text for r in responses]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=48, help="questions (default 48)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=None, help="default: batch size x 2")
    parser.add_argument("--model", default=None, help="default: Lingshu-Nano")
    args = parser.parse_args(argv)

    from lingshu.inference import GenerationParams, get_backend
    from lingshu.models import ensure_nano_dir

    model = args.model or str(ensure_nano_dir())
    requests = load_requests(args.n)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    batched = get_backend("hf", model=model, batch_size=args.batch_size, device="cpu")
    single = get_backend("hf", model=model, batch_size=1, device="cpu")
    answers(batched, requests[:2], params, one_by_one=False)  # warm-up (and weight loading)
    answers(single, requests[:1], params, one_by_one=True)
    chunk = args.chunk or args.batch_size * 2
    load_before = os.getloadavg()[0]
    ours: list[str] = []
    reference: list[str] = []
    t_ours = t_ref = 0.0
    for start in range(0, len(requests), chunk):
        part = requests[start : start + chunk]
        t0 = time.perf_counter()
        ours += answers(batched, part, params, one_by_one=False)
        t1 = time.perf_counter()
        reference += answers(single, part, params, one_by_one=True)
        t2 = time.perf_counter()
        t_ours += t1 - t0
        t_ref += t2 - t1
        print(f"  {len(ours):4d}/{len(requests)}: batched {t_ours:7.1f} s, one at a time {t_ref:7.1f} s", flush=True)
    n = len(requests)
    print(
        f"Lingshu-Nano ({model}), {n} VQA-RAD + SLAKE questions with images, "
        f"max_new_tokens={args.max_new_tokens}, batch_size={args.batch_size}, "
        f"{os.cpu_count()} CPUs, load average before {load_before:.2f}"
    )
    print(f"batched          {t_ours:8.2f} s  {n / t_ours:6.2f} samples/s")
    print(f"one at a time    {t_ref:8.2f} s  {n / t_ref:6.2f} samples/s")
    print(f"speed-up: {t_ref / t_ours:.2f}x (target >= 2x)")
    bad = [(i, a, b) for i, (a, b) in enumerate(zip(ours, reference, strict=True)) if a != b]
    for i, a, b in bad[:5]:
        print(f"  question {i}: batched {a!r} != alone {b!r}")
    print(f"greedy answers identical: {n - len(bad)}/{n}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
