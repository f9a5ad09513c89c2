"""Packed SFT (ours) vs TRL's SFTTrainer without packing: same model, same data, one run.

Stage-3 style data: many short conversations of varied length (MedMCQA questions with their
answer and, when present, the explanation; PubMedQA questions with the long answer), text
only, loss on the answer only on both sides (ours: assistant-only labels; TRL:
prompt-completion data, completion-only loss). Both train one epoch in fp32 on Lingshu-Nano
with learning rate 1e-5 on every part; TRL batches 8 samples padded to the longest, ours
packs samples into sequences of up to 1024 tokens (attention kept within each sample).

Reported: useful (non-padding) tokens per second of training (model loading and data
preparation excluded on both sides) and the ratio; target >= 1.5x. The two sides alternate
for ``--rounds`` rounds (ours, TRL, ours, TRL, ...); each round's ratio compares runs made
close in time, and the least favourable round is the headline (the machine this was written
on is shared: another job starting between the two halves of a round skews that round). TRL's ``positions_computed`` counts the positions its model ran, padding included (ours
packs with one pack per step, so it computes exactly its useful tokens).

    python bench/sft_throughput.py [--n 192] [--batch 8] [--max-length 1024] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_rows(n: int, seed: int = 0) -> list[dict]:
    rows = []
    for line in (REPO / "data/benchmarks/medmcqa/dev.json").read_text().splitlines():
        r = json.loads(line)
        opts = "\n".join(f"{k}. {r['op' + k.lower()]}" for k in "ABCD")
        ans = "ABCD"[int(r["cop"]) - 1]
        text = f"Answer: {ans}." + (f" {r['exp']}" if r.get("exp") else "")
        rows.append((f"{r['question']}\n{opts}", text[:1500]))
    pub = json.loads((REPO / "data/benchmarks/pubmedqa/ori_pqal.json").read_text())
    for r in pub.values():
        rows.append((r["QUESTION"], f"{r['final_decision'].capitalize()}. {r['LONG_ANSWER']}"))
    random.Random(seed).shuffle(rows)
    return [{"id": str(i), "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, (q, a) in enumerate(rows[:n])]


class _Sink:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def write(self, r: dict) -> None:
        self.rows.append(r)

    def truncate_after(self, *a) -> None:
        pass


def run_ours(model_dir: Path, data: Path, out: Path, max_length: int) -> dict:
    from lingshu.train.config import DataSource, SFTStageConfig
    from lingshu.train.sft import run_sft_stage

    cfg = SFTStageConfig(name="packed", data=[DataSource(path=data)], parts={"vision": 1e-5, "merger": 1e-5, "llm": 1e-5},
                         epochs=1, max_length=max_length, packing=True, per_device_batch=1, grad_accum=1,
                         warmup_steps=0, scheduler="constant", checkpoint_every=10**6, max_pixels=12544, min_pixels=3136)
    sink = _Sink()
    run_sft_stage(cfg, model_path=model_dir, output_dir=out, seed=0, precision="fp32", metrics=sink)
    secs = sum(r["step_time_s"] for r in sink.rows)
    toks = sum(r["useful_tokens_per_s"] * r["step_time_s"] for r in sink.rows)
    return {"steps": len(sink.rows), "seconds": secs, "useful_tokens": round(toks), "tokens_per_s": toks / secs}


def run_trl(model_dir: Path, rows: list[dict], out: Path, batch: int, max_length: int) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    ds = Dataset.from_list([{"prompt": r["messages"][:1], "completion": r["messages"][1:]} for r in rows])
    args = SFTConfig(output_dir=str(out), per_device_train_batch_size=batch, gradient_accumulation_steps=1,
                     num_train_epochs=1, learning_rate=1e-5, lr_scheduler_type="constant", warmup_steps=0,
                     packing=False, max_length=max_length, completion_only_loss=True, report_to=[],
                     save_strategy="no", logging_steps=10**6, use_cpu=True, dataloader_num_workers=0, seed=0,
                     bf16=False, fp16=False, disable_tqdm=True,
                     gradient_checkpointing=False,  # TRL 1.x turns it on by default; ours is off
                     padding_free=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    useful = sum(len(x) for x in trainer.train_dataset["input_ids"])
    seen = [0]

    def count(_mod, _args, kwargs):  # positions the model computes, padding included
        seen[0] += kwargs["input_ids"].numel() if kwargs.get("input_ids") is not None else 0

    model.register_forward_pre_hook(count, with_kwargs=True)
    t0 = time.perf_counter()
    trainer.train()
    secs = time.perf_counter() - t0
    return {"steps": trainer.state.global_step, "seconds": secs, "useful_tokens": useful,
            "positions_computed": seen[0], "tokens_per_s": useful / secs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=192, help="conversations")
    ap.add_argument("--batch", type=int, default=8, help="TRL per-device batch")
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternate ours and TRL this many times; the least favourable round's ratio is reported")
    a = ap.parse_args()
    from lingshu.models import ensure_nano_dir

    model_dir = ensure_nano_dir()
    rows = build_rows(a.n)
    runs: dict[str, list[dict]] = {"ours_packed": [], "trl_sft_unpacked": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        for r in range(a.rounds):
            runs["ours_packed"].append(run_ours(model_dir, data, Path(tmp) / f"ours{r}", a.max_length))
            runs["trl_sft_unpacked"].append(run_trl(model_dir, rows, Path(tmp) / f"trl{r}", a.batch, a.max_length))
            print(f"round {r + 1}: ours {runs['ours_packed'][-1]['tokens_per_s']:.1f} tok/s, "
                  f"TRL {runs['trl_sft_unpacked'][-1]['tokens_per_s']:.1f} tok/s", file=sys.stderr, flush=True)
    per_round = [o["tokens_per_s"] / t["tokens_per_s"] for o, t in zip(*runs.values())]
    ratio = min(per_round)  # the least favourable round: the two sides of a round ran close in time
    k = per_round.index(ratio)
    ours, trl = runs["ours_packed"][k], runs["trl_sft_unpacked"][k]
    print(json.dumps({"ours_packed": ours, "trl_sft_unpacked": trl, "ratio": round(ratio, 2),
                      "ratio_per_round": [round(x, 2) for x in per_round], "rounds": runs}, indent=2))
    print(f"useful tokens/s (least favourable of {a.rounds} rounds): ours {ours['tokens_per_s']:.1f}, "
          f"TRL {trl['tokens_per_s']:.1f}, ratio {ratio:.2f}x (target 1.5x; per round "
          f"{[round(x, 2) for x in per_round]}); useful tokens ours {ours['useful_tokens']} vs TRL "
          f"{trl['useful_tokens']}, TRL positions computed (padding included) {trl['positions_computed']}",
          file=sys.stderr)

if __name__ == "__main__":
    main()
