"""The three trainable parts of a Qwen2(.5)-VL model, freezing and per-part learning rates.

TRL has no switch for freezing the vision tower / merger / language model separately, nor
for per-module learning rates (BRIEF §6); ms-swift and Qwen's own scripts do (BRIEF §7).
Lingshu stage 1 trains the vision tower at 2e-6 and the merger at 1e-5 with the language
model frozen (paper Table 5), so these are first-class here.

Parameter paths in transformers 5 (Qwen2-VL and Qwen2.5-VL alike)::

    model.visual.merger.*      -> merger (the projector into the language model)
    model.visual.*             -> vision
    model.language_model.*, lm_head.*  -> llm

PEFT wraps names in ``base_model.model.``; that prefix is ignored.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from lingshu.train.config import PARTS

_PEFT_PREFIX = "base_model.model."


def part_of(name: str) -> str:
    """``vision``, ``merger`` or ``llm`` for a parameter's full name."""
    n = name.removeprefix(_PEFT_PREFIX)
    n = n.removeprefix("module.")  # DDP / FSDP wrappers
    if ".visual.merger." in f".{n}" or n.startswith("visual.merger."):
        return "merger"
    if ".visual." in f".{n}" or n.startswith("visual."):
        return "vision"
    return "llm"


def params_by_part(model: Any) -> dict[str, list[tuple[str, Any]]]:
    """Named parameters grouped by part (shared/tied tensors listed once)."""
    out: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for name, p in model.named_parameters():
        out[part_of(name)].append((name, p))
    return {k: out.get(k, []) for k in PARTS}


def apply_freezing(model: Any, lrs: dict[str, float | None], *, lora: bool = False) -> dict[str, int]:
    """Set ``requires_grad`` from ``lrs`` (None = frozen); with LoRA only the adapter weights
    of the language model train. Returns trainable parameter counts per part."""
    counts = {}
    for part, items in params_by_part(model).items():
        n = 0
        for name, p in items:
            train = lrs.get(part) is not None
            if lora and part == "llm":
                train = train and "lora_" in name
            p.requires_grad_(train)
            n += p.numel() if train else 0
        counts[part] = n
    return counts


def _no_decay(name: str, p: Any) -> bool:
    return p.ndim < 2 or name.endswith(".bias") or "norm" in name.lower()


def param_groups(model: Any, lrs: dict[str, float | None], weight_decay: float) -> list[dict]:
    """Optimizer groups: one per (part, decay / no-decay), each carrying the part's learning
    rate and a ``part`` key, trainable parameters only."""
    groups = []
    for part, items in params_by_part(model).items():
        lr = lrs.get(part)
        if lr is None:
            continue
        decay = [p for n, p in items if p.requires_grad and not _no_decay(n, p)]
        nodecay = [p for n, p in items if p.requires_grad and _no_decay(n, p)]
        for params, wd, tag in ((decay, weight_decay, "decay"), (nodecay, 0.0, "no_decay")):
            if params:
                groups.append(
                    {"params": params, "lr": lr, "weight_decay": wd, "part": part, "name": f"{part}/{tag}"}
                )
    return groups


def count_by_part(model: Any, *, trainable_only: bool = False) -> dict[str, int]:
    return {
        part: sum(p.numel() for _, p in items if p.requires_grad or not trainable_only)
        for part, items in params_by_part(model).items()
    }
