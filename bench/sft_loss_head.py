"""Target-only LM head vs full-vocabulary logits: one SFT training step on Lingshu-Nano.

A stage-1-like micro-batch (``--batch`` samples of about 100 tokens, one 112x112 image each,
short answers), vision tower + merger trainable, LLM frozen, bf16 autocast on CPU, as in the
nano recipe's stage 1. Both sides run forward + backward on the same batch in one process,
alternating, and the median step time is reported. Ours: ``loss_sum``, which applies the
LM head to target positions only (``logits_to_keep`` mask). Baseline: the same loss through
full (batch, length, vocab) logits, the previous implementation. Also checks the losses agree.

    python bench/sft_loss_head.py [--batch 16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def full_logits_loss(model, batch):
    import torch.nn.functional as F

    from lingshu.train.data.sft import IGNORE

    logits = model(**batch["inputs"], use_cache=False).logits
    tgt = batch["targets"]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tgt.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()

    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from lingshu.models import ensure_nano_dir
    from lingshu.train.data.packing import collate_padded, loss_sum
    from lingshu.train.parts import apply_freezing
    from lingshu.train.data.sft import encode, normalise

    torch.manual_seed(0)
    model_dir = ensure_nano_dir()
    proc = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    apply_freezing(model, {"vision": 1e-4, "merger": 1e-4, "llm": None})
    model.train()
    rng = np.random.default_rng(0)
    words = "chest radiograph shows the left lung upper lobe with a small nodule and no effusion".split()
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.batch):
            Image.fromarray(rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)).save(Path(tmp) / f"{i}.png")
            q = " ".join(rng.choice(words, 40 + i % 8))
            ans = " ".join(rng.choice(words, 12 + i % 5))
            row = {"id": str(i), "messages": [
                {"role": "user", "content": [{"type": "image", "image": f"{i}.png"}, {"type": "text", "text": q}]},
                {"role": "assistant", "content": [{"type": "text", "text": ans}]}]}
            samples.append(encode(proc, normalise(row, Path(tmp)), max_length=1024,
                                  min_pixels=3136, max_pixels=12544))
    pad = proc.tokenizer.pad_token_id
    batch = collate_padded(samples, pad)
    lengths = [s.length for s in samples]

    def step(fn):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = fn(model, batch)
        loss.backward()
        return time.perf_counter() - t0, float(loss.detach())

    sides = {"target_only_head": lambda m, b: loss_sum(m, b)[0], "full_logits": full_logits_loss}
    for fn in sides.values():  # warm-up
        step(fn)
    times: dict[str, list[float]] = {k: [] for k in sides}
    losses: dict[str, float] = {}
    for _ in range(a.repeats):
        for k, fn in sides.items():
            dt, losses[k] = step(fn)
            times[k].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {"batch": a.batch, "tokens_per_sample": [min(lengths), max(lengths)],
           "target_tokens": int((batch["targets"] != -100).sum()), "vocab": model.config.text_config.vocab_size,
           "median_step_s": {k: round(v, 3) for k, v in med.items()},
           "all_step_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
           "loss": losses, "speedup": round(med["full_logits"] / med["target_only_head"], 2)}
    print(json.dumps(out, indent=2))
    print(f"step: target-only head {med['target_only_head']:.3f} s, full logits {med['full_logits']:.3f} s, "
          f"{out['speedup']}x", file=sys.stderr)


if __name__ == "__main__":
    main()
