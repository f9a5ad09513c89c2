"""GPU acceptance check (issue 19): what only a machine with a CUDA GPU can show, in one table.

Run from the repository root with the project's virtualenv (`bash scripts/gpu_check.sh`); it
needs one GPU and about 8 minutes. Never run by the tests or CI (they check only that it
stops with one "no GPU" line on a machine without one: tests/scripts/test_gpu_check.py).

Checks, each a function below, each in its own process (a crash or a CUDA error in one does
not take the others down; vLLM wants a fresh process):

- ``sft_packing``: a bf16 SFT forward/backward on the tiny Qwen2.5-VL, packed (flash
  attention 2 when flash_attn is installed, SDPA otherwise) equals the same samples unpacked:
  summed loss within 2e-2 and every gradient within 5e-2 relative (bf16 rounding: 1.1e-2 seen
  on CPU; attention leaking across samples moves them far more; fp32 is held to 1e-5 in
  tests/train/test_packing.py);
- ``zero3``: `accelerate launch` with DeepSpeed ZeRO-3 on one GPU (the shipped ds_zero3.json):
  start, 2 optimizer steps, export of final/, reload with plain transformers;
- ``vllm_backend``: 20 bundled MedQA questions answered greedily by the vllm backend and by
  the hf backend, both fp32: every answer equal;
- ``grpo_vllm``: 2 GRPO steps with use_vllm, vllm_mode colocate, on Lingshu-Nano.

    bash scripts/gpu_check.sh            # all checks, then the table
    python scripts/gpu_check.py --only sft_packing zero3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# "cuda"; "cpu" only to try the checks' own code on a machine without a GPU (development)
DEVICE = os.environ.get("LINGSHU_GPU_CHECK_DEVICE", "cuda")
ROWS = [  # (image or None, question, answer): image and text-only conversations
    ("a.png", "Which organ is shown?", "The left lung, upper lobe."),
    (None, "Define pneumothorax briefly.", "Air in the pleural space."),
    ("b.png", "Which modality?", "CT"),
    (None, "Is aspirin an NSAID?", "Yes, it is."),
]


def require_gpu() -> None:
    """One line and exit status 2 where there is no CUDA GPU (before any check starts)."""
    try:
        import torch
    except ImportError:
        print(f"no GPU check: torch is not importable by {sys.executable}; run with the project's "
              "virtualenv (PYTHON=.../bin/python bash scripts/gpu_check.sh)")
        raise SystemExit(2) from None
    if not torch.cuda.is_available():
        print("no GPU: scripts/gpu_check.sh needs a CUDA GPU (torch.cuda.is_available() is False)")
        raise SystemExit(2)


def _tiny_model(tmp: Path) -> Path:
    from lingshu.models import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp / "tiny", seed=0)


def _rows(tmp: Path) -> list[dict]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, (w, h) in {"a.png": (84, 56), "b.png": (56, 112)}.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp / name)
    out = []
    for i, (img, q, a) in enumerate(ROWS):
        content = ([{"type": "image", "image": str(tmp / img)}] if img else []) + [{"type": "text", "text": q}]
        out.append({"id": f"q{i}", "messages": [{"role": "user", "content": content},
                                                {"role": "assistant", "content": [{"type": "text", "text": a}]}]})
    return out


def check_sft_packing(tmp: Path) -> str:
    import importlib.util

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from lingshu.train.data.packing import collate_packed, collate_padded, loss_sum, rope_fn_for
    from lingshu.train.data.sft import encode, normalise

    attn = "flash_attention_2" if importlib.util.find_spec("flash_attn") else "sdpa"
    model_dir = _tiny_model(tmp)
    proc = AutoProcessor.from_pretrained(model_dir)
    samples = [encode(proc, normalise(r, tmp), max_length=512, min_pixels=3136, max_pixels=12544)
               for r in _rows(tmp)]
    model = AutoModelForImageTextToText.from_pretrained(model_dir, attn_implementation=attn).to(DEVICE)
    pad = proc.tokenizer.pad_token_id

    def run(batches: list[dict]) -> tuple[float, dict]:
        model.zero_grad()
        total = 0.0
        for b in batches:
            b = {k: v.to(DEVICE) if hasattr(v, "to") else v for k, v in b.items()}
            with torch.autocast(DEVICE, dtype=torch.bfloat16):
                loss, _ = loss_sum(model, b)
            loss.backward()
            total += float(loss.detach())
        return total, {n: p.grad.float().clone() for n, p in model.named_parameters() if p.grad is not None}

    ref_loss, ref = run([collate_padded([s], pad) for s in samples])
    loss, got = run([collate_packed([samples], rope_fn_for(model), pad)])
    worst = max(float((got[n] - g).norm() / (g.norm() + 1e-12)) for n, g in ref.items())
    rel = abs(loss - ref_loss) / abs(ref_loss)
    assert rel < 2e-2 and worst < 5e-2, f"packed {loss:.4f} vs unpacked {ref_loss:.4f}, worst grad {worst:.3g}"
    return f"{attn}: loss {loss:.4f} vs {ref_loss:.4f} (rel {rel:.1e}), worst gradient rel {worst:.1e}"


def check_zero3(tmp: Path) -> str:
    import torch
    import yaml
    from transformers import AutoModelForImageTextToText

    model_dir = _tiny_model(tmp)
    data = tmp / "sft.jsonl"
    rows = [dict(r, id=f"{r['id']}-{k}") for k in range(4) for r in _rows(tmp)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    acc = {"compute_environment": "LOCAL_MACHINE", "distributed_type": "DEEPSPEED", "num_processes": 1,
           "num_machines": 1, "machine_rank": 0, "main_process_port": 29531, "use_cpu": False,
           "deepspeed_config": {"deepspeed_config_file": str(REPO / "recipes/accelerate/ds_zero3.json"),
                                "zero3_init_flag": True}}
    (tmp / "acc.yaml").write_text(yaml.safe_dump(acc))
    stage = {"name": "sft", "kind": "sft", "data": [{"path": str(data)}], "max_steps": 2, "max_length": 256,
             "parts": {"vision": 1e-4, "merger": 1e-4, "llm": 1e-4}, "per_device_batch": 2, "grad_accum": 2,
             "warmup_steps": 0, "min_pixels": 3136, "max_pixels": 12544, "checkpoint_every": 1000}
    recipe = {"name": "z3", "base_model": str(model_dir), "output_dir": str(tmp / "run"), "seed": 0,
              "precision": "bf16", "parallelism": {"strategy": "deepspeed-zero3", "gpus_per_node": 1},
              "stages": [stage]}
    (tmp / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(tmp / "acc.yaml"),
           "-m", "lingshu.cli.main", "train", "--recipe", str(tmp / "recipe.yaml")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=tmp)
    assert r.returncode == 0, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
    steps = json.loads((tmp / "run/sft/summary.json").read_text())["steps"]
    model = AutoModelForImageTextToText.from_pretrained(tmp / "run/sft/final")
    n = sum(p.numel() for p in model.parameters())
    assert steps == 2 and all(torch.isfinite(p).all() for p in model.parameters())
    return f"2 steps, final/ reloaded by transformers ({n:,} params, dtype {model.dtype})"


def check_vllm_backend(tmp: Path) -> str:
    from lingshu.inference import GenerationParams, Request, get_backend, user_message
    from lingshu.models import ensure_nano_dir

    model = str(ensure_nano_dir())
    rows = [json.loads(x) for x in (REPO / "data/benchmarks/medqa-usmle/phrases_no_exclude_test.jsonl")
            .read_text().splitlines()[:20]]
    reqs = [Request(id=str(i), messages=[user_message(
        r["question"] + "\n" + "\n".join(f"{k}. {v}" for k, v in sorted(r["options"].items()))
        + "\nAnswer with the option's letter.")]) for i, r in enumerate(rows)]
    params = GenerationParams(max_new_tokens=32, temperature=0.0)
    with get_backend("hf", model=model, dtype="float32", device="cuda") as hf:
        want = [x.text for x in hf.generate(reqs, params)]
    with get_backend("vllm", model=model, dtype="float32", gpu_memory_utilization=0.4,
                     max_model_len=2048) as vl:
        got = [x.text for x in vl.generate(reqs, params)]
    same = sum(a == b for a, b in zip(want, got, strict=True))
    assert same == len(reqs), f"{same}/{len(reqs)} equal; first difference: {next((a, b) for a, b in zip(want, got) if a != b)}"
    return f"{same}/{len(reqs)} answers equal (greedy, fp32, 32 new tokens)"


def check_grpo_vllm(tmp: Path) -> str:
    from lingshu.models import ensure_nano_dir
    from lingshu.train.grpo import GRPOStageConfig, run_grpo_stage

    model_dir = ensure_nano_dir()  # head dim 64, which every vLLM attention backend takes (tiny: 16)
    rows = [{"id": f"q{i}", "answer": "B", "question_type": "mcq", "options": {"A": "a", "B": "b"},
             "messages": [{"role": "user", "content": [{"type": "text", "text": f"Question {i}? A. a B. b"}]}]}
            for i in range(8)]
    (tmp / "rl.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = GRPOStageConfig(data=[{"path": "rl.jsonl"}], num_generations=4, global_batch=2, rollout_batch=2,
                             per_device_batch=8, max_prompt_length=256, max_completion_length=16, max_steps=2,
                             beta=0.04, use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.3)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29541")
    result = run_grpo_stage(config, model_path=model_dir, output_dir=tmp / "run", seed=0, base_dir=tmp,
                            device="cuda")
    s = result.summary
    assert s["steps"] == 2 and s["generation"] == "vllm-colocate", s
    return f"2 steps with vLLM colocate, final loss {s['final_loss']:.4f}, mean reward {s['final_reward']}"


CHECKS = {"sft_packing": check_sft_packing, "zero3": check_zero3, "vllm_backend": check_vllm_backend,
          "grpo_vllm": check_grpo_vllm}
LIMIT_S = {"sft_packing": 80, "zero3": 130, "vllm_backend": 130, "grpo_vllm": 130}  # < 8 min in all


def run_one(name: str) -> None:
    """In the child process: run ``name`` and print one JSON line with its result."""
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            detail, ok = CHECKS[name](Path(tmp)), True
        except Exception as e:  # reported in the table, one line
            detail, ok = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300], False
    print("GPU_CHECK " + json.dumps({"check": name, "ok": ok, "seconds": round(time.time() - t0, 1),
                                     "detail": detail}), flush=True)


def run_all(names: list[str]) -> list[dict]:
    results = []
    for name in names:
        cmd = [sys.executable, __file__, "--child", name]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=LIMIT_S[name], cwd=REPO)
            lines = [x for x in r.stdout.splitlines() if x.startswith("GPU_CHECK ")]
            res = json.loads(lines[-1][10:]) if lines else {
                "check": name, "ok": False, "seconds": None,
                "detail": (r.stderr.strip().splitlines() or ["no output"])[-1][:300]}
        except subprocess.TimeoutExpired:
            res = {"check": name, "ok": False, "seconds": LIMIT_S[name], "detail": "timed out"}
        results.append(res)
        print(f"{name}: {'PASS' if res['ok'] else 'FAIL'}", file=sys.stderr, flush=True)
    return results


def table(results: list[dict]) -> str:
    import torch

    head = f"GPU check on {torch.cuda.get_device_name(0)}, torch {torch.__version__}\n"
    lines = ["| check | result | seconds | detail |", "|---|---|---|---|"]
    lines += [f"| {r['check']} | {'PASS' if r['ok'] else 'FAIL'} | {r['seconds']} | {r['detail']} |"
              for r in results]
    return head + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(CHECKS), help="run these checks only")
    ap.add_argument("--child", choices=list(CHECKS), help=argparse.SUPPRESS)
    a = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    require_gpu()
    if a.child:
        run_one(a.child)
        return
    results = run_all(a.only or list(CHECKS))
    print(table(results))
    raise SystemExit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
