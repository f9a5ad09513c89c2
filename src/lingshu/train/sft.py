"""The supervised stage (Lingshu stages 1-3) on transformers + accelerate (+ PEFT for LoRA).

Why our own loop and not TRL's ``SFTTrainer``: TRL has no switch for freezing the vision
tower / merger / language model separately, no per-module learning rates and no packing for
vision-language models (BRIEF §6), and its packing's positions are 1-D. Those three are the
core of the Lingshu recipe, so the loop is ours; everything under it is the field's
libraries: the model and scheduler from transformers, process groups, DDP/FSDP/DeepSpeed
wrapping and mixed precision from accelerate, LoRA from PEFT.

Objective: mean cross-entropy over all assistant tokens of an optimizer step. Each
micro-batch contributes ``sum / N`` where ``N`` counts the assistant tokens of the whole
step on all processes (every process holds the data index, so ``N`` needs no
communication); gradients are then summed over processes (our all-reduce for plain data
parallelism; FSDP and DeepSpeed average, so there the loss carries a factor ``world_size``).
The result is independent of packing, batch split and process count (tests).

Data order: units (samples, or packs with packing) are shuffled per epoch with
``seed + epoch``; optimizer step ``s`` consumes global units ``s*U .. s*U+U-1``, ``U =
per_device_batch * grad_accum * world_size``; process ``r`` takes its contiguous slice. The
step number is therefore the whole data position a checkpoint needs.
"""

from __future__ import annotations

import json
import logging
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

from lingshu.core.io import atomic_write_json, atomic_write_text, honour_umask, remove_stale_temps, temp_dir
from lingshu.train.recipe import PARTS, SFTStageConfig, total_steps

log = logging.getLogger(__name__)
DONE = "summary.json"


def _unit_order(n_units: int, seed: int, epoch: int, lengths: list[int] | None = None,
                per_step: int = 1) -> list[int]:
    """The epoch's unit order: a seeded permutation; with ``lengths``, grouped by length.

    Grouping (HF Trainer's ``group_by_length``): the permutation is cut into chunks of 64
    optimizer steps, each chunk is sorted by length and cut into steps, and the steps are
    shuffled (a final partial step stays last, so step boundaries stay aligned). Every step then holds samples of similar length, so padding wastes little
    compute (a caption of 40 tokens no longer pads to a 95-token question), while the order
    stays a pure function of ``(seed, epoch)``: resuming at step ``s`` needs nothing else.
    """
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n_units).tolist()
    if lengths is None or per_step <= 1:
        return order
    chunk = per_step * 64
    steps: list[list[int]] = []
    for c in range(0, n_units, chunk):
        part = sorted(order[c:c + chunk], key=lambda u: (lengths[u], u))
        steps.extend(part[k:k + per_step] for k in range(0, len(part), per_step))
    tail = steps.pop() if len(steps[-1]) < per_step else []  # a partial step stays last
    return [u for i in rng.permutation(len(steps)).tolist() for u in steps[i]] + tail


def units_for_step(step: int, n_units: int, per_step: int, seed: int, cache: dict,
                   lengths: list[int] | None = None) -> list[int]:
    """The global units of optimizer step ``step`` (0-based), across epoch boundaries."""
    out = []
    for g in range(step * per_step, (step + 1) * per_step):
        epoch, k = divmod(g, n_units)
        if epoch not in cache:
            cache.clear()
            cache[epoch] = _unit_order(n_units, seed, epoch, lengths, per_step)
        out.append(cache[epoch][k])
    return out


def _accelerator(precision: str) -> Any:
    import os

    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    import torch

    kwargs: dict[str, Any] = {
        # a text-only micro-batch leaves the vision tower without gradients
        "kwargs_handlers": [DistributedDataParallelKwargs(find_unused_parameters=True)],
        # without cpu=True, accelerate 1.15 on a GPU-less machine ignores WORLD_SIZE and runs
        # each launched process alone (DistributedType.NO); with it, gloo DDP (MULTI_CPU)
        "cpu": not torch.cuda.is_available(),
    }
    if "ACCELERATE_MIXED_PRECISION" not in os.environ:
        from lingshu.models.precision import resolve_precision, training_device

        precision = resolve_precision(precision, training_device())
        kwargs["mixed_precision"] = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[precision]
    return Accelerator(**kwargs)


def _load_model(model_path: Path, config: SFTStageConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if not sys.stderr.isatty():  # keep log files to our own progress lines
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    processor = AutoProcessor.from_pretrained(model_path)
    model = AutoModelForImageTextToText.from_pretrained(model_path, dtype=torch.float32)
    tok = processor.tokenizer
    # BRIEF §5: generate() needs the config's bos/eos ids to be the tokenizer's.
    for cfg in (model.config, getattr(model.config, "text_config", None), model.generation_config):
        if cfg is None:
            continue
        if tok.eos_token_id is not None:
            cfg.eos_token_id = tok.eos_token_id
        if tok.bos_token_id is not None:
            cfg.bos_token_id = tok.bos_token_id
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, processor


def _apply_lora(model: Any, config: SFTStageConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    lc = config.lora
    assert lc is not None
    return get_peft_model(model, LoraConfig(r=lc.r, lora_alpha=lc.alpha, lora_dropout=lc.dropout,
                                            target_modules=lc.target_regex, bias="none"))


def _scheduler(optimizer: Any, config: SFTStageConfig, n_steps: int) -> Any:
    from transformers import get_scheduler

    name = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}[config.scheduler]
    return get_scheduler(name, optimizer, num_warmup_steps=min(config.warmup_steps, n_steps),
                         num_training_steps=n_steps)


class _Progress:
    """A tqdm bar on a terminal; one plain line every ``every`` steps in a log file."""

    def __init__(self, total: int, initial: int, desc: str, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.total = total
        self.desc = desc
        if enabled and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)

    def update(self, step: int, loss: float, tps: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tps:.0f}", refresh=False)
            self.bar.update(1)
        elif step == self.total or step % max(1, self.total // 20) == 0 or step == 1:
            print(f"{self.desc} step {step}/{self.total} loss {loss:.4f} {tps:.0f} tok/s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sft_stage(config: SFTStageConfig, *, model_path: Path, output_dir: Path, seed: int,
                  precision: str = "fp32", metrics: Any = None, global_step_offset: int = 0,
                  accelerator: Any = None, stop_after: int | None = None, **_: Any) -> Path:
    """Train one SFT stage from ``model_path`` into ``output_dir``; return ``output_dir/final``.

    Rerunning a finished stage returns at once; an interrupted one resumes from its last
    checkpoint. ``stop_after`` ends the process's work after that many optimizer steps (tests).
    """
    import torch
    from accelerate.utils import DistributedType, set_seed

    from lingshu.train.checkpoint import latest_checkpoint, load_checkpoint
    from lingshu.train.packing import collate_packed, collate_padded, loss_sum, pack_greedy, rope_fn_for
    from lingshu.train.parts import apply_freezing, count_by_part, param_groups
    from lingshu.train.augment import augment_sample, view_rng
    from lingshu.train.sft_data import load_sft_data

    stage_dir = Path(output_dir)
    final = stage_dir / "final"
    if (stage_dir / DONE).is_file() and (final / "config.json").is_file():
        log.info("stage %s already finished; skipping", config.name)
        return final
    acc = accelerator or _accelerator(precision)
    world, rank = acc.num_processes, acc.process_index
    set_seed(seed)
    stage_dir.mkdir(parents=True, exist_ok=True)

    model, processor = _load_model(Path(model_path), config)
    if config.lora is not None:
        model = _apply_lora(model, config)
    lrs = {p: config.lr_of(p) for p in PARTS}
    trainable = apply_freezing(model, lrs, lora=config.lora is not None)
    groups = param_groups(model, lrs, config.optimizer.weight_decay)
    sharded = acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    # The fused kernel (CPU and CUDA since torch 2.4; transformers' Trainer default,
    # "adamw_torch_fused") updates all tensors in one pass instead of a Python loop per
    # parameter; sharded engines manage their own optimizer state, so they keep the default.
    fused = not sharded and all(p.device.type in ("cpu", "cuda") for g in groups for p in g["params"])
    optimizer = torch.optim.AdamW(groups, betas=config.optimizer.betas, eps=config.optimizer.eps,
                                  **({"fused": True} if fused else {}))

    t0 = time.time()
    samples, excl = load_sft_data(config.data, processor, max_length=config.max_length,
                                  min_pixels=config.min_pixels, max_pixels=config.max_pixels, seed=seed,
                                  keep_images=config.augment.active)
    if acc.is_main_process:
        atomic_write_text(stage_dir / "exclusions.jsonl",
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in excl.rows))
        if excl.total:
            log.warning("stage %s: %d samples skipped (%s); see %s", config.name, excl.total,
                        dict(excl.counts), stage_dir / "exclusions.jsonl")
    if not samples:
        from lingshu.core.errors import UserError

        raise UserError(f"stage {config.name}: no usable samples ({dict(excl.counts)}); "
                        f"see {stage_dir / 'exclusions.jsonl'}")
    if acc.is_main_process:  # what a kill between writing and renaming left (issue 22)
        remove_stale_temps(stage_dir, (".step-*", ".final.*"))
    ckpt = latest_checkpoint(stage_dir)
    if config.embedding_alignment.active and ckpt is None:
        # before the first step only: a resumed stage holds the result in its weights
        from lingshu.train.embed_align import align_to_embeddings

        summary = align_to_embeddings(
            model, samples, processor, config.embedding_alignment, lrs, seed=seed,
            augment=config.augment, min_pixels=config.min_pixels, max_pixels=config.max_pixels,
            autocast=acc.autocast, device=acc.device, log_path=stage_dir / "embedding_alignment.jsonl",
            progress=acc.is_main_process and sys.stderr.isatty())
        log.info("stage %s: embedding alignment %s", config.name, summary)
    units = (pack_greedy([s.length for s in samples], config.max_length, seed=seed) if config.packing
             else [[i] for i in range(len(samples))])
    per_step = config.per_device_batch * config.grad_accum * world
    n_steps = total_steps(len(units), config, world)
    scheduler = _scheduler(optimizer, config, n_steps)

    unwrapped = model
    # Plain data parallelism (several processes, nothing sharded): we all-reduce the summed
    # gradients ourselves once per optimizer step instead of wrapping in DDP. DDP cannot
    # accept a micro-batch without a path to any trainable weight (a text-only batch in
    # stage 1, where only the vision tower trains): its reducer waits for every parameter.
    manual_dp = world > 1 and not sharded
    if manual_dp:
        model = model.to(acc.device)
    else:
        model, optimizer = acc.prepare(model, optimizer)
    pad_id = processor.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = processor.tokenizer.eos_token_id
    rope = rope_fn_for(unwrapped)

    start = 0
    if ckpt is not None:
        if sharded:
            acc.load_state(str(ckpt / "accelerate"))
            state = json.loads((ckpt / "trainer_state.json").read_text())
            scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=False))
            start = int(state["step"])
        else:
            start = load_checkpoint(ckpt, unwrapped, optimizer.optimizer if hasattr(optimizer, "optimizer")
                                    else optimizer, scheduler, rank=rank).step
        log.info("stage %s: resumed at step %d from %s", config.name, start, ckpt)
    if metrics is not None and acc.is_main_process:
        # lines past the checkpoint (every line when there is none) are trained again
        metrics.truncate_after(config.name, start)

    def view(step: int, u: int, k: int) -> Any:
        i = units[u][k]
        if not config.augment.active:
            return samples[i]
        return augment_sample(samples[i], processor, view_rng(seed, step, u, k), config.augment,
                              config.min_pixels, config.max_pixels)

    def batch_of(step: int, idx: list[int]) -> dict:
        if config.packing:
            return collate_packed([[view(step, u, k) for k in range(len(units[u]))] for u in idx],
                                  rope, pad_id)
        return collate_padded([view(step, u, 0) for u in idx], pad_id)

    params = [p for p in unwrapped.parameters() if p.requires_grad]
    unit_lengths = ([sum(samples[i].length for i in u) for u in units]
                    if config.group_by_length else None)
    progress = _Progress(n_steps, start, config.name, acc.is_main_process)
    order_cache: dict = {}
    last_loss = float("nan")
    model.train()
    step = start
    for step in range(start + 1, n_steps + 1):
        ts = time.time()
        glob = units_for_step(step - 1, len(units), per_step, seed, order_cache, unit_lengths)
        n_tok = sum(samples[i].n_label_tokens for u in glob for i in units[u])
        mine = glob[rank * config.per_device_batch * config.grad_accum:(rank + 1) * config.per_device_batch * config.grad_accum]
        local = torch.zeros((), dtype=torch.float64)
        useful = 0
        for m in range(config.grad_accum):
            idx = mine[m * config.per_device_batch:(m + 1) * config.per_device_batch]
            batch = batch_of(step, idx)
            useful += sum(samples[i].length for u in idx for i in units[u])  # real tokens, no padding
            last = m == config.grad_accum - 1
            with acc.autocast():
                lsum, _ = loss_sum(model, batch)
            if lsum.requires_grad:
                # Sharded engines average gradients over processes (factor world); DeepSpeed
                # also divides by its gradient_accumulation_steps. Manual DP sums.
                scale = world if sharded else 1
                if acc.distributed_type == DistributedType.DEEPSPEED:
                    scale *= config.grad_accum
                acc.backward(lsum / max(n_tok, 1) * scale)
            elif sharded:  # every rank must join the engine's collectives
                acc.backward(sum(p.sum() for p in params) * 0.0)
            local += lsum.detach().double()
        if manual_dp:
            _allreduce_grads(params)
        tot = acc.reduce(local.to(acc.device), reduction="sum") if world > 1 else local
        if sharded:
            grad_norm = acc.clip_grad_norm_(params, config.max_grad_norm or float("inf"))
        else:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm or float("inf"))
        step_lrs = {f"lr/{g['part']}": g["lr"] for g in optimizer.param_groups}  # the LRs this step used
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        last_loss = float(tot) / max(n_tok, 1)
        dt = time.time() - ts
        tps = useful * world / dt if dt > 0 else 0.0
        progress.update(step, last_loss, tps)
        if metrics is not None and acc.is_main_process and (step % config.log_every == 0 or step == n_steps):
            rec = {"stage": config.name, "step": step, "global_step": global_step_offset + step,
                   "epoch": round(step * per_step / len(units), 4), "loss": last_loss,
                   "grad_norm": float(grad_norm), "tokens": n_tok, "useful_tokens_per_s": round(tps, 1),
                   "step_time_s": round(dt, 4)}
            rec.update(step_lrs)
            metrics.write(rec)
        if step % config.checkpoint_every == 0 and step < n_steps:
            _checkpoint(acc, stage_dir, step, unwrapped, optimizer, scheduler, config, sharded, rank)
        if stop_after is not None and step - start >= stop_after:
            progress.close()
            return final
    progress.close()

    acc.wait_for_everyone()
    if acc.is_main_process:
        _export(acc.unwrap_model(model), processor, stage_dir, config)
    summary = {
        "stage": config.name, "steps": n_steps, "samples": len(samples), "units": len(units),
        "packing": config.packing, "excluded": excl.total, "excluded_by_reason": dict(excl.counts),
        "trainable_params": trainable, "params": count_by_part(unwrapped), "final_loss": last_loss,
        "seconds": round(time.time() - t0, 1), "world_size": world,
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
    }
    if acc.is_main_process:
        atomic_write_json(stage_dir / DONE, summary)  # training is done whatever the evaluation does
    if config.eval is not None and acc.is_main_process:
        from lingshu.core.errors import UserError

        try:
            summary["eval"] = evaluate_stage(final, config, stage_dir, metrics, global_step_offset + n_steps)
        except UserError as e:  # a benchmark problem must not cost the trained model
            log.error("stage %s: evaluation failed: %s", config.name, e)
            summary["eval_error"] = str(e)
        atomic_write_json(stage_dir / DONE, summary)
    acc.wait_for_everyone()
    return final


def _allreduce_grads(params: list, bucket: int = 1 << 25) -> None:
    """Sum every trainable gradient over processes, in flat buckets (as DDP does)."""
    import torch
    import torch.distributed as dist
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    chunk: list = []
    size = 0
    for p in params + [None]:
        if p is not None:
            chunk.append(p.grad)
            size += p.grad.numel()
        if chunk and (p is None or size >= bucket):
            flat = _flatten_dense_tensors(chunk)
            dist.all_reduce(flat)
            for g, r in zip(chunk, _unflatten_dense_tensors(flat, chunk)):
                g.copy_(r)
            chunk, size = [], 0


def _checkpoint(acc: Any, stage_dir: Path, step: int, unwrapped: Any, optimizer: Any, scheduler: Any,
                config: SFTStageConfig, sharded: bool, rank: int) -> None:
    from lingshu.train.checkpoint import save_checkpoint

    state = {"stage": config.name}
    if sharded:  # FSDP / ZeRO-3: each rank holds a shard; accelerate writes them
        import torch

        d = stage_dir / "checkpoints" / f"step-{step:08d}"
        acc.save_state(str(d / "accelerate"))
        if acc.is_main_process:
            torch.save(scheduler.state_dict(), d / "scheduler.pt")
            (d / "trainer_state.json").write_text(json.dumps(dict(state, step=step)))
        return
    opt = optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer
    save_checkpoint(stage_dir, step, unwrapped, opt, scheduler, state, keep=config.keep_checkpoints,
                    rank=rank, is_main=acc.is_main_process)
    acc.wait_for_everyone()


def _export(model: Any, processor: Any, stage_dir: Path, config: SFTStageConfig) -> None:
    """``final/``: a standard Hugging Face folder (weights, config, processor) that
    ``lingshu serve``, ``lingshu eval run`` and plain transformers load."""
    import shutil

    final = stage_dir / "final"
    tmp = temp_dir(stage_dir, "final")  # honours the umask, as evaluation and curation do
    if config.lora is not None:
        model.save_pretrained(stage_dir / "final-adapter")
        honour_umask(stage_dir / "final-adapter")
        if config.lora.merge_on_export:
            model = model.merge_and_unload()
    for p in model.parameters():
        p.requires_grad_(True)
    model.save_pretrained(tmp)
    ip = getattr(processor, "image_processor", None)
    if ip is not None:
        ip.size = {"shortest_edge": config.min_pixels, "longest_edge": config.max_pixels}
    processor.save_pretrained(tmp)
    honour_umask(tmp)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def evaluate_stage(final: Path, config: SFTStageConfig, stage_dir: Path, metrics: Any, step: int) -> dict:
    """Run the stage's evaluation through the evaluation kit (hf backend); returns scores."""
    from lingshu.eval.config import EvalConfig
    from lingshu.eval.runner import run_eval

    ev = config.eval
    assert ev is not None
    from lingshu.eval.types import GenerationParams

    cfg = EvalConfig(benchmarks=ev.benchmarks, data_dir=ev.data_dir, limit=ev.limit, backend="hf",
                     backend_options={"model": str(final), "batch_size": ev.batch_size},
                     generation=GenerationParams(max_new_tokens=ev.max_new_tokens))
    result = run_eval(cfg, stage_dir / "eval")
    scores = _numeric(result.metrics)
    if metrics is not None:
        rec = {"stage": config.name, "step": step, "global_step": step}
        for k, v in _flatten(scores).items():  # headline scores only; the rest is in eval/
            parts = k.split("/")
            headline = (len(parts) == 3 and parts[0] == "benchmarks" and parts[2] in ("accuracy", "invalid_rate")) \
                or k == "macro_accuracy"
            if headline and not math.isnan(v):
                rec[f"eval/{k.removeprefix('benchmarks/')}"] = v
        metrics.write(rec)
    return scores


def _numeric(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {str(k): _numeric(v) for k, v in obj.items()}
        return {k: v for k, v in out.items() if v not in (None, {})}
    if isinstance(obj, bool):
        return None
    return float(obj) if isinstance(obj, (int, float)) else None


def _flatten(d: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out
