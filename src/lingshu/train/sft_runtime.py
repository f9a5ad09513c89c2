"""The supervised loop's contact with accelerate, transformers, PEFT and the disk: the
accelerator, model loading, LoRA, the LR schedule, the progress line, the gradient
all-reduce of plain data parallelism, checkpoints and the exported ``final/`` folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lingshu.train.config import SFTStageConfig


def make_accelerator(precision: str) -> Any:
    import os

    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    import torch

    kwargs: dict[str, Any] = {
        # a text-only micro-batch leaves the vision tower without gradients
        "kwargs_handlers": [DistributedDataParallelKwargs(find_unused_parameters=True)],
        # without cpu=True, accelerate 1.15 on a GPU-less machine ignores WORLD_SIZE and runs
        # each launched process alone (DistributedType.NO); with it, gloo DDP (MULTI_CPU).
        # Under DeepSpeed cpu=True would switch DeepSpeed off (accelerate/state.py checks
        # ``ACCELERATE_USE_DEEPSPEED and not cpu``); DeepSpeed's CPU accelerator
        # (DS_ACCELERATOR=cpu) brings its own gloo process group instead.
        "cpu": not torch.cuda.is_available() and not deepspeed_launched(),
    }
    if not torch.cuda.is_available() and deepspeed_launched():
        from accelerate.utils import InitProcessGroupKwargs

        # Without a named backend accelerate 1.15 finds no device backend on a CPU machine,
        # lets DeepSpeed start gloo, but then records num_processes = 1 and rank 0 on every
        # process (state.py: ``if self.backend is None``); naming gloo keeps the real ranks.
        kwargs["kwargs_handlers"].append(InitProcessGroupKwargs(backend="gloo"))
    launched = os.environ.get("ACCELERATE_MIXED_PRECISION")
    # With a DeepSpeed JSON file accelerate refuses mixed_precision in the launch config and
    # exports "no" to every process, from which it fills the JSON's bf16 "auto": the shipped
    # ZeRO-3 configs then trained bf16 recipes in fp32. Under DeepSpeed the recipe decides
    # unless the command line named a precision (an explicit --mixed_precision bf16/fp16).
    if launched is None or (deepspeed_launched() and launched == "no"):
        from lingshu.models.precision import resolve_precision, training_device

        precision = resolve_precision(precision, training_device())
        kwargs["mixed_precision"] = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[precision]
    return Accelerator(**kwargs)


def deepspeed_launched() -> bool:
    """Whether ``accelerate launch`` started this process with a DeepSpeed config (it
    exports ``ACCELERATE_USE_DEEPSPEED=true`` to every process)."""
    import os

    return os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"


def load_model(model_path: Path, config: SFTStageConfig) -> tuple[Any, Any]:
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


def apply_lora(model: Any, config: SFTStageConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    lc = config.lora
    assert lc is not None
    return get_peft_model(model, LoraConfig(r=lc.r, lora_alpha=lc.alpha, lora_dropout=lc.dropout,
                                            target_modules=lc.target_regex, bias="none"))


def make_scheduler(optimizer: Any, config: SFTStageConfig, n_steps: int) -> Any:
    from transformers import get_scheduler

    name = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}[config.scheduler]
    return get_scheduler(name, optimizer, num_warmup_steps=min(config.warmup_steps, n_steps),
                         num_training_steps=n_steps)


class Progress:
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


def allreduce_grads(params: list, bucket: int = 1 << 25) -> None:
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


def save_step_checkpoint(acc: Any, stage_dir: Path, step: int, unwrapped: Any, optimizer: Any, scheduler: Any,
                config: SFTStageConfig, sharded: bool, rank: int) -> None:
    from lingshu.train.checkpoint import save_checkpoint

    state = {"stage": config.name}
    if sharded:  # FSDP / ZeRO: each rank holds a shard; accelerate writes them
        from lingshu.train.checkpoint import save_sharded_checkpoint

        save_sharded_checkpoint(acc, stage_dir, step, scheduler, state, keep=config.keep_checkpoints)
        return
    opt = optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer
    save_checkpoint(stage_dir, step, unwrapped, opt, scheduler, state, keep=config.keep_checkpoints,
                    rank=rank, is_main=acc.is_main_process)
    acc.wait_for_everyone()


def export_final(acc: Any, model: Any, processor: Any, stage_dir: Path, config: SFTStageConfig,
                 *, sharded: bool) -> None:
    """``final/``: a standard Hugging Face folder (weights, config, processor) that
    ``lingshu serve``, ``lingshu eval run`` and plain transformers load. Called on every rank.

    Sharded engines (ZeRO-3, FSDP) hold a slice of each weight per rank: the full weights
    are gathered by a collective every rank joins (``Accelerator.get_state_dict``; ZeRO-3
    needs ``stage3_gather_16bit_weights_on_model_save``, set in the shipped JSONs), then
    rank 0 alone writes. Weights keep the dtype they were trained in: bf16 under DeepSpeed
    with bf16 (its engine trains bf16 weights; before, the export was an fp32 copy, twice the
    disk), fp32 where the loop keeps fp32 weights and computes in bf16 under autocast (one
    process, plain data parallelism), so stage i+1 starts from exactly what stage i trained.
    """
    state = acc.get_state_dict(model) if sharded else None
    if acc.is_main_process:
        _write_final(acc.unwrap_model(model), state, processor, stage_dir, config)
    acc.wait_for_everyone()


def _as_loaded_model(model: Any, state: dict) -> None:
    """Make a gathered state dict save like a plain model's (checked: same keys as a
    one-process export, tests/train/test_deepspeed_zero.py).

    Gathered copies of tied weights (``lm_head`` = the input embeddings when
    ``tie_word_embeddings``) are separate tensors, so transformers would store both: they are
    made one object again. A model loaded under ZeRO-3's ``zero.Init`` carries a key
    conversion list that writes ``model.model.*`` names on save; without the list
    transformers uses its default mapping, the one a normally loaded model writes with.
    """
    tied = getattr(model, "all_tied_weights_keys", None) or {}
    if getattr(model.config, "tie_word_embeddings", False):
        for dst, src in tied.items():
            if dst in state and src in state:
                state[dst] = state[src]
    if getattr(model, "_weight_conversions", None) is not None:
        model._weight_conversions = None


def _write_final(model: Any, state: dict | None, processor: Any, stage_dir: Path,
                 config: SFTStageConfig) -> None:
    import shutil

    from lingshu.core.io import honour_umask, temp_dir

    final = stage_dir / "final"
    tmp = temp_dir(stage_dir, "final")  # weights honour the umask, as eval and curation do
    if config.lora is not None:
        model.save_pretrained(stage_dir / "final-adapter")
        honour_umask(stage_dir / "final-adapter")
        if config.lora.merge_on_export:
            model = model.merge_and_unload()
    for p in model.parameters():
        p.requires_grad_(True)
    if state is None:
        state = model.state_dict()
    else:
        _as_loaded_model(model, state)
    floats = {v.dtype for v in state.values() if v.is_floating_point()}
    if len(floats) == 1:
        model.config.dtype = floats.pop()  # config.json names the dtype the weights are stored in
    model.save_pretrained(tmp, state_dict=state)
    ip = getattr(processor, "image_processor", None)
    if ip is not None:
        ip.size = {"shortest_edge": config.min_pixels, "longest_edge": config.max_pixels}
        ip.save_pretrained(tmp)  # preprocessor_config.json, which older readers look for
    processor.save_pretrained(tmp)
    honour_umask(tmp)  # safetensors writes 0600
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
