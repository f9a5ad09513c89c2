"""Evaluation on CPU in bf16 against fp32, in one process: the pipeline's `evaluation.dtype`.

The ``hf`` backend answers all 155 `lingshu-demo` questions (organ and modality multiple
choice with their images, the strict profile's prompts, greedy decoding, 112x112 images as
the demo trains them) twice over, once with the weights in float32 (the CPU default) and
once in bfloat16 (how the demo's stages train: bf16 autocast). Both backends load the same
folder; each gets one warm-up call, then they alternate chunk by chunk so load drift on a
shared machine hits both alike. Prints seconds, questions/s, the ratio, each dtype's
accuracy and how many answers differ (bf16 rounds differently, so some may: that is why
the demo's recipe evaluates every stage, the base model included, in the same dtype).

    python bench/eval_dtype.py                          # untrained Lingshu-Nano
    python bench/eval_dtype.py --model runs/demo/final  # the demo's trained model
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from eval_throughput import backend_answers as answers  # bench/ is on sys.path: python bench/x.py

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "benchmarks"
PIXELS = 112 * 112


def accuracy(samples: list[Any], texts: list[str]) -> float:
    from lingshu.eval import extract_choice

    right = sum(extract_choice(t, s.options).value == s.answer for s, t in zip(samples, texts, strict=True))
    return right / len(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: Lingshu-Nano)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=64, help="questions per alternation")
    args = parser.parse_args(argv)

    from lingshu.eval import get_benchmark, get_profile
    from lingshu.inference import GenerationParams, Request, get_backend
    from lingshu.models import ensure_nano_dir

    model = args.model or str(ensure_nano_dir())
    profile = get_profile("strict")
    samples = get_benchmark("lingshu-demo").load(DATA)
    requests = [Request(id=s.id, messages=profile.build_messages(s)) for s in samples]
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    common = dict(model=model, batch_size=args.batch_size, device="cpu", min_pixels=PIXELS,
                  max_pixels=PIXELS)
    fp32 = get_backend("hf", dtype="float32", **common)
    bf16 = get_backend("hf", dtype="bfloat16", **common)
    answers(fp32, requests[:2], params)  # warm-up (and weight loading)
    answers(bf16, requests[:2], params)
    load_before = os.getloadavg()[0]
    out: dict[str, list[str]] = {"fp32": [], "bf16": []}
    took = {"fp32": 0.0, "bf16": 0.0}
    for start in range(0, len(requests), args.chunk):
        part = requests[start : start + args.chunk]
        for name, backend in (("fp32", fp32), ("bf16", bf16)):
            t0 = time.perf_counter()
            out[name] += answers(backend, part, params)
            took[name] += time.perf_counter() - t0
        print(f"  {len(out['fp32']):4d}/{len(requests)}: fp32 {took['fp32']:6.1f} s, "
              f"bf16 {took['bf16']:6.1f} s", flush=True)
    n = len(requests)
    print(f"model {model}, {n} lingshu-demo questions, batch {args.batch_size}, "
          f"max_new_tokens {args.max_new_tokens}, {os.cpu_count()} CPUs, "
          f"load average before {load_before:.2f}")
    for name in ("fp32", "bf16"):
        print(f"{name}  {took[name]:7.2f} s  {n / took[name]:6.2f} questions/s  "
              f"accuracy {accuracy(samples, out[name]):.1%}")
    print(f"speed-up bf16 / fp32: {took['fp32'] / took['bf16']:.2f}x")
    differ = sum(a != b for a, b in zip(out["fp32"], out["bf16"], strict=True))
    print(f"answers that differ: {differ}/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
