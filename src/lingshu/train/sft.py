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
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json, atomic_write_text, remove_stale_temps
from lingshu.train.config import PARTS, SFTStageConfig, total_steps
from lingshu.train.stages.base import StageResult, read_summary

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


@dataclass
class _Run:
    """Everything the step loop needs, built by :func:`_setup` in the order that fixes the
    random draws (seed, model, optimizer, data, alignment, packs)."""

    acc: Any
    model: Any
    unwrapped: Any
    processor: Any
    optimizer: Any
    scheduler: Any
    samples: list
    excl: Any
    units: list[list[int]]
    n_steps: int
    per_step: int
    start: int
    sharded: bool
    manual_dp: bool
    trainable: Any
    t0: float
    stage_dir: Path
    keepalive: Any = None


def run_sft_stage(config: SFTStageConfig, *, model_path: Path, output_dir: Path, seed: int,
                  precision: str = "fp32", metrics: Any = None, global_step_offset: int = 0,
                  accelerator: Any = None, stop_after: int | None = None, **_: Any) -> StageResult:
    """Train one SFT stage from ``model_path`` into ``output_dir``; the result names
    ``output_dir/final``.

    Rerunning a finished stage returns at once; an interrupted one resumes from its last
    checkpoint. ``stop_after`` ends the process's work after that many optimizer steps (tests).
    """
    stage_dir = Path(output_dir)
    final = stage_dir / "final"
    if (stage_dir / DONE).is_file() and (final / "config.json").is_file():
        log.info("stage %s already finished; skipping", config.name)
        return StageResult(config.name, "sft", final, stage_dir, read_summary(stage_dir, DONE))
    run = _setup(config, Path(model_path), stage_dir, seed, precision, accelerator, metrics)
    last_loss, stopped = _train(run, config, seed, metrics, global_step_offset, stop_after)
    if stopped:
        return StageResult(config.name, "sft", final, stage_dir, {"steps": run.n_steps}, complete=False)
    summary = _finish(run, config, stage_dir, metrics, global_step_offset, last_loss)
    return StageResult(config.name, "sft", final, stage_dir, summary)


def _setup(config: SFTStageConfig, model_path: Path, stage_dir: Path, seed: int, precision: str,
           accelerator: Any, metrics: Any) -> _Run:
    import torch
    from accelerate.utils import DistributedType, set_seed

    from lingshu.train.checkpoint import latest_checkpoint
    from lingshu.train.data.loader import Singletons
    from lingshu.train.data.packing import pack_greedy
    from lingshu.train.parts import apply_freezing, param_groups
    from lingshu.train.sft_runtime import apply_lora, load_model, make_accelerator, make_scheduler

    acc = accelerator or make_accelerator(precision)
    set_seed(seed)
    stage_dir.mkdir(parents=True, exist_ok=True)

    model, processor = load_model(model_path, config)
    if config.lora is not None:
        model = apply_lora(model, config)
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
    samples, excl = _load_samples(config, processor, seed, stage_dir, acc)
    if acc.is_main_process:  # what a kill between writing and renaming left (issue 22)
        remove_stale_temps(stage_dir, (".step-*", ".final.*"))
    ckpt = latest_checkpoint(stage_dir)
    if config.embedding_alignment.active and ckpt is None:
        # before the first step only: a resumed stage holds the result in its weights
        from lingshu.train.embed_align import align_to_embeddings

        summary = align_to_embeddings(
            model, samples.as_encoded(config.augment.active), processor, config.embedding_alignment, lrs, seed=seed,
            augment=config.augment, min_pixels=config.min_pixels, max_pixels=config.max_pixels,
            autocast=acc.autocast, device=acc.device, log_path=stage_dir / "embedding_alignment.jsonl",
            progress=acc.is_main_process and sys.stderr.isatty())
        log.info("stage %s: embedding alignment %s", config.name, summary)
    units = (pack_greedy(samples.lengths.tolist(), config.max_length, seed=seed) if config.packing
             else Singletons(len(samples)))
    world = acc.num_processes
    n_steps = total_steps(len(units), config, world)
    scheduler = make_scheduler(optimizer, config, n_steps)

    unwrapped = model
    # Plain data parallelism (several processes, nothing sharded): we all-reduce the summed
    # gradients ourselves once per optimizer step instead of wrapping in DDP. DDP cannot
    # accept a micro-batch without a path to any trainable weight (a text-only batch in
    # stage 1, where only the vision tower trains): its reducer waits for every parameter.
    manual_dp = world > 1 and not sharded
    if acc.distributed_type == DistributedType.DEEPSPEED:
        from lingshu.train.distributed import configure_deepspeed

        configure_deepspeed(acc, config, _precision_of(acc), model.config)
    if manual_dp:
        model = model.to(acc.device)
    else:
        model, optimizer = acc.prepare(model, optimizer)
    run = _Run(acc, model, unwrapped, processor, optimizer, scheduler, samples, excl, units, n_steps,
               config.per_device_batch * config.grad_accum * world, 0, sharded, manual_dp, trainable, t0,
               stage_dir)
    if sharded:  # every rank must run the vision tower, also on a text-only micro-batch
        from lingshu.train.vision_keepalive import VisionKeepAlive

        run.keepalive = VisionKeepAlive(unwrapped)
    if ckpt is not None:
        run.start = _resume(run, ckpt, config, metrics)
    elif metrics is not None and acc.is_main_process:
        # a run killed before its first checkpoint: its lines are trained again (issue 22)
        metrics.truncate_after(config.name, 0)
    return run


def _precision_of(acc: Any) -> str:
    """The accelerator's resolved precision in the recipe's words."""
    return {"no": "fp32", "bf16": "bf16", "fp16": "fp16"}.get(str(acc.mixed_precision), "fp32")


def _load_samples(config: SFTStageConfig, processor: Any, seed: int, stage_dir: Path,
                  acc: Any) -> tuple[Any, Any]:
    """The stage's samples as a length index (``data/lazy.py``: rows are encoded when a batch
    needs them); skipped rows go to ``exclusions.jsonl`` with why. The first process of each
    machine builds the index (cached under ``length-index/``), the others read it, in
    :func:`_index_processes` processes."""
    from lingshu.train.data.lazy import open_sft_data

    with acc.local_main_process_first():
        samples, excl = open_sft_data(config.data, processor, max_length=config.max_length,
                                      min_pixels=config.min_pixels, max_pixels=config.max_pixels,
                                      seed=seed, cache_dir=stage_dir / "length-index",
                                      processes=_index_processes(config))
    main = acc.is_main_process
    if main:
        atomic_write_text(stage_dir / "exclusions.jsonl",
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in excl.rows))
        if excl.total:
            log.warning("stage %s: %d samples skipped (%s); see %s", config.name, excl.total,
                        dict(excl.counts), stage_dir / "exclusions.jsonl")
    if not len(samples):
        raise UserError(f"stage {config.name}: no usable samples ({dict(excl.counts)}); "
                        f"see {stage_dir / 'exclusions.jsonl'}")
    return samples, excl


def _resume(run: _Run, ckpt: Path, config: SFTStageConfig, metrics: Any) -> int:
    """Load the checkpoint's weights, optimizer and schedule; return its step."""
    import torch

    from lingshu.train.checkpoint import load_checkpoint

    acc = run.acc
    if run.sharded:
        acc.load_state(str(ckpt / "accelerate"))
        state = json.loads((ckpt / "trainer_state.json").read_text())
        run.scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=False))
        start = int(state["step"])
    else:
        opt = run.optimizer.optimizer if hasattr(run.optimizer, "optimizer") else run.optimizer
        start = load_checkpoint(ckpt, run.unwrapped, opt, run.scheduler, rank=acc.process_index).step
    if metrics is not None and acc.is_main_process:
        metrics.truncate_after(config.name, start)
    log.info("stage %s: resumed at step %d from %s", config.name, start, ckpt)
    return start


def _batches(run: _Run, config: SFTStageConfig, seed: int) -> Any:
    """``batch_of(step, units) -> collated batch``: each image a fresh view per step when
    the stage augments (a pure function of seed, step and position: resumable). Samples are
    encoded in DataLoader workers ahead of the loop (``data/loader.py``)."""
    from lingshu.train.data.augment import augment_sample, view_rng
    from lingshu.train.data.lazy import encoded_or_placeholder
    from lingshu.train.data.loader import Prefetcher, rank_keys
    from lingshu.train.data.packing import collate_packed, collate_padded, rope_fn_for

    tok = run.processor.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rope = rope_fn_for(run.unwrapped)
    units, samples = run.units, run.samples

    def view(step: int, u: int, k: int) -> Any:
        i = units[u][k]
        if not config.augment.active:
            return encoded_or_placeholder(samples, i, pad_id)
        return augment_sample(encoded_or_placeholder(samples, i, pad_id, keep_images=True), run.processor,
                              view_rng(seed, step, u, k), config.augment, config.min_pixels, config.max_pixels)

    def fetch(step: int, idx: list[int]) -> list:
        return [[view(step, u, k) for k in range(len(units[u]))] for u in idx]

    def collate(got: list) -> dict:
        if config.packing:
            return collate_packed(got, rope, pad_id)
        return collate_padded([p[0] for p in got], pad_id)

    lengths = [sum(samples[i].length for i in u) for u in units] if config.group_by_length else None
    cache: dict = {}
    keys = rank_keys(lambda step: units_for_step(step - 1, len(units), run.per_step, seed, cache, lengths),
                     range(run.start + 1, run.n_steps + 1), run.acc.process_index, config.per_device_batch,
                     config.grad_accum)
    return Prefetcher(fetch, collate, keys, _data_workers(config))


def _index_processes(config: SFTStageConfig) -> int:
    """Processes for a cold length pass: the rank's data workers and the rank itself, all
    idle until the index exists (``data_workers: 0``: the rank alone). On 2 cores with one
    core's worth of other work, 2 processes took a 1M-row first step from 85 to 66 s; on 2
    cores kept busy by other jobs they were slower than one (docs/performance.md): set
    ``data_workers: 0`` on such a machine."""
    return _data_workers(config) + 1


def _data_workers(config: SFTStageConfig) -> int:
    from lingshu.train.data.loader import default_workers

    return config.data_workers if config.data_workers is not None else default_workers()


def _train(run: _Run, config: SFTStageConfig, seed: int, metrics: Any, offset: int,
           stop_after: int | None) -> tuple[float, bool]:
    """The optimizer steps from ``run.start``; returns (last loss, stopped early)."""
    from lingshu.train.sft_runtime import Progress, save_step_checkpoint

    acc, units = run.acc, run.units
    batch_of = _batches(run, config, seed)
    params = [p for p in run.unwrapped.parameters() if p.requires_grad]
    unit_lengths = ([sum(run.samples[i].length for i in u) for u in units]
                    if config.group_by_length else None)
    progress = Progress(run.n_steps, run.start, config.name, acc.is_main_process)
    order_cache: dict = {}
    last_loss = float("nan")
    run.model.train()
    for step in range(run.start + 1, run.n_steps + 1):
        ts = time.time()
        glob = units_for_step(step - 1, len(units), run.per_step, seed, order_cache, unit_lengths)
        last_loss, grad_norm, n_tok, useful, step_lrs = _step(run, config, step, glob, batch_of, params)
        dt = time.time() - ts
        tps = useful * acc.num_processes / dt if dt > 0 else 0.0
        progress.update(step, last_loss, tps)
        if metrics is not None and acc.is_main_process and (step % config.log_every == 0 or step == run.n_steps):
            rec = {"stage": config.name, "step": step, "global_step": offset + step,
                   "epoch": round(step * run.per_step / len(units), 4), "loss": last_loss,
                   "grad_norm": float(grad_norm), "tokens": n_tok, "useful_tokens_per_s": round(tps, 1),
                   "step_time_s": round(dt, 4)}
            rec.update(step_lrs)
            metrics.write(rec)
        if step % config.checkpoint_every == 0 and step < run.n_steps:
            save_step_checkpoint(acc, run.stage_dir, step, run.unwrapped, run.optimizer, run.scheduler,
                                 config, run.sharded, acc.process_index)
        if stop_after is not None and step - run.start >= stop_after:
            progress.close()
            return last_loss, True
    progress.close()
    return last_loss, False


def _step(run: _Run, config: SFTStageConfig, step: int, glob: list[int], batch_of: Any,
          params: list) -> tuple[float, Any, int, int, dict]:
    """One optimizer step over the global units ``glob``; returns (loss, grad norm, label
    tokens, real tokens of this process, the learning rates the step used)."""
    import torch
    from accelerate.utils import DistributedType

    from lingshu.train.data.packing import loss_sum
    from lingshu.train.sft_runtime import allreduce_grads

    acc, units, samples = run.acc, run.units, run.samples
    world, rank = acc.num_processes, acc.process_index
    n_tok = sum(samples[i].n_label_tokens for u in glob for i in units[u])
    per_rank = config.per_device_batch * config.grad_accum
    mine = glob[rank * per_rank:(rank + 1) * per_rank]
    local = torch.zeros((), dtype=torch.float64)
    useful = 0
    acc.step = 0  # accumulate() below: the last micro-batch of this step is the boundary
    for m in range(config.grad_accum):
        idx = mine[m * config.per_device_batch:(m + 1) * config.per_device_batch]
        batch = batch_of(step, idx)
        useful += sum(samples[i].length for u in idx for i in units[u])  # real tokens, no padding
        if run.keepalive is not None:
            run.keepalive.active = "pixel_values" not in batch["inputs"]
        # Under DeepSpeed, accelerate hands sync_gradients to the engine as the accumulation
        # boundary and steps the engine only there (gradient_accumulation_steps = grad_accum,
        # set by configure_deepspeed); elsewhere accumulation steps stay 1 and this is a no-op.
        with acc.accumulate(run.model):
            with acc.autocast():
                lsum, _ = loss_sum(run.model, batch)
            if lsum.requires_grad:
                # Sharded engines average gradients over processes (factor world); DeepSpeed
                # also divides each micro-batch by its gradient_accumulation_steps. Manual DP sums.
                scale = world if run.sharded else 1
                if acc.distributed_type == DistributedType.DEEPSPEED:
                    scale *= config.grad_accum
                acc.backward(lsum / max(n_tok, 1) * scale)
            elif run.sharded:  # every rank must join the engine's collectives
                acc.backward(sum(p.sum() for p in params) * 0.0)
        local += lsum.detach().double()
    if run.manual_dp:
        allreduce_grads(params)
    tot = acc.reduce(local.to(acc.device), reduction="sum") if world > 1 else local
    if run.sharded:
        grad_norm = acc.clip_grad_norm_(params, config.max_grad_norm or float("inf"))
    else:
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm or float("inf"))
    step_lrs = {f"lr/{g['part']}": g["lr"] for g in run.optimizer.param_groups}  # the LRs this step used
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return float(tot) / max(n_tok, 1), grad_norm, n_tok, useful, step_lrs


def _finish(run: _Run, config: SFTStageConfig, stage_dir: Path, metrics: Any, offset: int,
            last_loss: float) -> dict[str, Any]:
    """Export ``final/``, write ``summary.json``, then run the stage's own evaluation."""
    from lingshu.train.evaluate import evaluate_stage
    from lingshu.train.parts import count_by_part
    from lingshu.train.sft_runtime import export_final

    acc = run.acc
    acc.wait_for_everyone()
    export_final(acc, run.model, run.processor, stage_dir, config, sharded=run.sharded)
    excl = run.excl
    summary = {
        "stage": config.name, "steps": run.n_steps, "samples": len(run.samples), "units": len(run.units),
        "packing": config.packing, "excluded": excl.total, "excluded_by_reason": dict(excl.counts),
        "trainable_params": run.trainable, "params": count_by_part(run.unwrapped), "final_loss": last_loss,
        "seconds": round(time.time() - run.t0, 1), "world_size": acc.num_processes,
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
    }
    if acc.is_main_process:
        atomic_write_json(stage_dir / DONE, summary)  # training is done whatever the evaluation does
    if config.eval is not None and acc.is_main_process:
        try:
            summary["eval"] = evaluate_stage(stage_dir / "final", config.name, config.eval, stage_dir,
                                             metrics, offset + run.n_steps)
        except UserError as e:  # a benchmark problem must not cost the trained model
            log.error("stage %s: evaluation failed: %s", config.name, e)
            summary["eval_error"] = str(e)
        atomic_write_json(stage_dir / DONE, summary)
    acc.wait_for_everyone()
    return summary
