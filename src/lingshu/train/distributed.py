"""DeepSpeed settings built from the stage: the one function the run and the dry run share.

Why this exists: accelerate 1.15 fills DeepSpeed's ``"auto"`` batch values from a DataLoader
passed to ``prepare``; our loop has none (the step's samples come from a pure function of
seed and step, see ``sft.units_for_step``), so ``train_micro_batch_size_per_gpu: auto`` made
``prepare`` raise. The stage knows every value DeepSpeed asks for, so we write them into the
config before ``prepare``; the dry run builds the same dict with the same function and hands
it to DeepSpeed's own parser (``deepspeed.runtime.config.DeepSpeedConfig``), so what the dry
run accepts is what the run will use.

Gradient accumulation under DeepSpeed: ``gradient_accumulation_steps`` = the stage's
``grad_accum``, and the loop marks the last micro-batch of each optimizer step as the
boundary through ``Accelerator.accumulate`` (accelerate passes ``sync_gradients`` on to
``engine.set_gradient_accumulation_boundary`` and calls ``engine.step()`` only there).
DeepSpeed divides each micro-batch's loss by ``gradient_accumulation_steps``
(``engine.backward(scale_wrt_gas=True)``) and averages gradients over the data-parallel
group; the loop's loss carries the inverse factors, so the update equals the one-process sum.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

#: ``"auto"`` keys accelerate derives from the model's hidden size; the same formulas as
#: accelerate 1.15's ``Accelerator._prepare_deepspeed`` so a filled config matches what
#: accelerate would have chosen.
_HIDDEN_KEYS = {
    "reduce_bucket_size": lambda h: h * h,
    "stage3_prefetch_bucket_size": lambda h: int(0.9 * h * h),
    "stage3_param_persistence_threshold": lambda h: 10 * h,
}


def deepspeed_config(base: dict, *, per_device_batch: int, grad_accum: int, world_size: int,
                     max_grad_norm: float | None, precision: str, hidden_size: int | None) -> dict:
    """``base`` (a DeepSpeed JSON) with every ``"auto"`` the stage decides filled in.

    Values the user set explicitly are kept; :func:`check_deepspeed_config` reports those
    that contradict the stage. ``precision`` is the resolved one (``fp32``, ``bf16``, ``fp16``).
    """
    ds = copy.deepcopy(base)
    fill = {
        "train_micro_batch_size_per_gpu": per_device_batch,
        "gradient_accumulation_steps": grad_accum,
        "train_batch_size": per_device_batch * grad_accum * world_size,
        # DeepSpeed: 0 turns clipping off (engine.gradient_clipping() > 0 enables it)
        "gradient_clipping": float(max_grad_norm) if max_grad_norm else 0.0,
    }
    for key, val in fill.items():
        if ds.get(key, "auto") == "auto":
            ds[key] = val
    for key, want in (("bf16", precision == "bf16"), ("fp16", precision == "fp16")):
        sect = ds.get(key)
        if isinstance(sect, dict) and sect.get("enabled") == "auto":
            sect["enabled"] = want
    zero = ds.get("zero_optimization") or {}
    for key, fn in _HIDDEN_KEYS.items():
        if zero.get(key) == "auto":
            if hidden_size is None:
                raise ValueError(f"zero_optimization.{key} is auto but the model's hidden size is unknown")
            zero[key] = fn(hidden_size)
    return ds


def check_deepspeed_config(ds: dict, *, per_device_batch: int, grad_accum: int,
                           max_grad_norm: float | None, world_size: int) -> list[str]:
    """Problems of a built config, as DeepSpeed's own parser and the stage see them."""
    probs = []
    for key, val in (("gradient_accumulation_steps", grad_accum),
                     ("train_micro_batch_size_per_gpu", per_device_batch),
                     ("gradient_clipping", float(max_grad_norm) if max_grad_norm else 0.0)):
        if ds.get(key) != val:
            probs.append(f"{key} {ds.get(key)} != the stage's {val} (use \"auto\")")
    want_tb = per_device_batch * grad_accum * world_size
    if ds.get("train_batch_size") != want_tb:
        probs.append(f"train_batch_size {ds.get('train_batch_size')} != per_device_batch x grad_accum x "
                     f"processes = {want_tb} (use \"auto\")")
    left = [k for k, v in _walk(ds) if v == "auto"]
    if left:
        probs.append(f"'auto' left that nothing fills: {', '.join(left)}")
    if probs:
        return probs
    try:
        from deepspeed.runtime.config import DeepSpeedConfig
    except ImportError:  # checked where DeepSpeed runs; the dry run may be on a laptop
        return probs
    # DeepSpeed's parser takes the process count from the live process group, 1 outside one
    # (a dry run), so it is handed the batch for the count it will see; ours is checked above.
    seen = dict(copy.deepcopy(ds), train_batch_size=per_device_batch * grad_accum * _group_size())
    try:
        DeepSpeedConfig(seen)
    except Exception as e:  # noqa: BLE001 - DeepSpeed raises AssertionError, ValueError, pydantic errors
        msg = " ".join(str(e).split())
        probs.append(f"DeepSpeed rejects it: {type(e).__name__}: {msg[:300]}")
    return probs


def _group_size() -> int:
    """The process count DeepSpeed's config parser will read (its own lookup, same fallback)."""
    try:
        from deepspeed import comm as dist

        return int(dist.get_world_size())
    except (RuntimeError, AssertionError, AttributeError):
        return 1


def _walk(d: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _walk(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def hidden_size_of(model_config: Any) -> int | None:
    """The hidden size accelerate would read, or the language model's (Qwen2.5-VL keeps it
    under ``text_config`` in transformers 5)."""
    for cfg in (model_config, getattr(model_config, "text_config", None)):
        h = getattr(cfg, "hidden_size", None)
        if isinstance(h, int):
            return h
    return None


def configure_deepspeed(acc: Any, stage: Any, precision: str, model_config: Any) -> dict:
    """Write the stage's values into the active DeepSpeed plugin before ``acc.prepare``;
    returns the config DeepSpeed will be initialised with."""
    plugin = acc.state.deepspeed_plugin
    built = deepspeed_config(plugin.deepspeed_config, per_device_batch=stage.per_device_batch,
                             grad_accum=stage.grad_accum, world_size=acc.num_processes,
                             max_grad_norm=stage.max_grad_norm, precision=precision,
                             hidden_size=hidden_size_of(model_config))
    probs = check_deepspeed_config(built, per_device_batch=stage.per_device_batch, grad_accum=stage.grad_accum,
                                   max_grad_norm=stage.max_grad_norm, world_size=acc.num_processes)
    if probs:
        from lingshu.core.errors import UserError

        raise UserError(f"DeepSpeed config for stage {stage.name}: {'; '.join(probs)}")
    plugin.deepspeed_config.clear()
    plugin.deepspeed_config.update(built)
    # accelerate's own counter: accumulate() marks every grad_accum-th micro-batch as the boundary
    acc.gradient_accumulation_steps = stage.grad_accum
    return built


def load_deepspeed_json(path: Path) -> dict:
    """A DeepSpeed JSON file, or a one-line error naming it."""
    from lingshu.core.errors import UserError

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"DeepSpeed config {path} not found") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a DeepSpeed config is a JSON object")
    return data
