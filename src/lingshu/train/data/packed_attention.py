"""Attention for packed rows without an L x L mask: causal SDPA on each sample's segment.

A packed row holds several samples; each may attend only to its own earlier tokens. The
generic route (transformers' ``create_causal_mask`` reading restarting position ids) builds a
dense block-diagonal (L, L) mask per row, and on CPU a masked ``scaled_dot_product_attention``
runs the math kernel over the whole L x L square (forward and backward), most of it masked
out. Here the row is split where the text positions restart at 0 (the collator's per-sample
positions, ``packing.collate_packed``) and every segment runs plain causal SDPA
(``is_causal=True``, the fused kernel): exactly the block-diagonal causal attention, with
work proportional to the sum of squared sample lengths. On GPU, ``flash_attention_2`` does
the same from the same position ids (varlen ``cu_seqlens``).

The implementation is registered with transformers' ``AttentionInterface`` under
:data:`NAME` and switched on only for the text model and only while a packed batch runs
(:func:`packed_attention`); it is not in ``AttentionMaskInterface``, so transformers builds no
mask at all. Vision towers keep their own attention (their per-image split already exists).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

NAME = "lingshu_packed_sdpa"
_REPLACES = ("sdpa", "eager", None)

_registered = False
_cache: list = [None, None]  # [position_ids tensor, its segments]: computed once per forward


class NoSegmentInfo(RuntimeError):
    """The model's attention layers do not receive ``position_ids``: segments are unknown."""


def _segments(position_ids: Any) -> list[list[tuple[int, int]]]:
    """Per row, the (start, end) spans between restarts of the text positions at 0."""
    if _cache[0] is position_ids:
        return _cache[1]
    pos = position_ids.detach().to("cpu")
    segs = []
    for row in pos:
        starts = (row == 0).nonzero().flatten().tolist()
        if not starts or starts[0] != 0:
            starts = [0, *starts]
        ends = [*starts[1:], len(row)]
        segs.append(list(zip(starts, ends)))
    _cache[0], _cache[1] = position_ids, segs
    return segs


def packed_sdpa_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                        dropout: float = 0.0, scaling: float | None = None, position_ids: Any = None,
                        **kwargs: Any) -> tuple[Any, None]:
    """transformers attention-function signature; ``query`` is (B, H, L, D), ``key``/``value``
    (B, H_kv, L, D); returns (B, L, H, D) like ``sdpa_attention_forward``."""
    import torch
    import torch.nn.functional as F

    if attention_mask is not None:
        raise RuntimeError(f"{NAME} expects no attention mask (packed rows carry no padding mask)")
    if position_ids is None:
        raise NoSegmentInfo(f"{NAME}: the attention layer got no position_ids")
    if position_ids.ndim == 3:  # (rows, B, L): the text row first, as the Qwen-VL text model keeps it
        position_ids = position_ids[0]
    groups = getattr(module, "num_key_value_groups", 1)
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    p = dropout if module.training else 0.0
    rows = []
    # unbind/split rather than slicing: their backward stacks/concatenates the pieces' gradients
    # once, where every slice's backward would allocate and fill a whole-tensor zero gradient
    for spans, q, k, v in zip(_segments(position_ids), query.unbind(0), key.unbind(0), value.unbind(0)):
        sizes = [e - s for s, e in spans]
        parts = [F.scaled_dot_product_attention(qs, ks, vs, dropout_p=p, scale=scaling, is_causal=True)
                 for qs, ks, vs in zip(q.split(sizes, dim=1), k.split(sizes, dim=1), v.split(sizes, dim=1))]
        rows.append(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])
    out = torch.stack(rows, dim=0)
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, packed_sdpa_forward)
    _registered = True


def inner_model(model: Any) -> Any | None:
    """The transformers model under accelerate/DDP/``torch.compile``/PEFT wrappers, or None
    where the wrapper changes the sequence (PEFT prompt learning prepends virtual tokens, so
    a per-position mask built from our targets would no longer line up)."""
    m = model
    for _ in range(8):
        if hasattr(m, "_orig_mod"):  # torch.compile
            m = m._orig_mod
        elif hasattr(m, "get_base_model") and hasattr(m, "peft_config"):  # PEFT
            cfg = getattr(m, "active_peft_config", None)
            if cfg is not None and getattr(cfg, "is_prompt_learning", False):
                return None
            m = m.get_base_model()
        elif type(m).__name__ in ("DistributedDataParallel", "DataParallel") and hasattr(m, "module"):
            m = m.module
        else:
            return m
    return m


def _text_configs(model: Any) -> list[Any]:
    """The configs whose ``_attn_implementation`` the language model's attention reads."""
    inner = inner_model(model)
    if inner is None or not hasattr(inner, "config"):
        return []
    cfg = inner.config
    text = getattr(cfg, "text_config", None)
    return [text if text is not None else cfg]


@contextlib.contextmanager
def packed_attention(model: Any) -> Iterator[bool]:
    """While active, the model's language model attends per packed segment (yields True), or
    nothing changes where the model's config cannot be found or its attention already handles
    packed positions without a dense mask (yields False)."""
    # Only replace the mask-based implementations: flash-attention (varlen from the same
    # positions) and flex attention already skip the masked-out blocks.
    cfgs = [c for c in _text_configs(model) if c._attn_implementation in _REPLACES]
    if not cfgs:
        yield False
        return
    register()
    old = [c._attn_implementation for c in cfgs]
    try:
        for c in cfgs:
            c._attn_implementation = NAME
        yield True
    finally:
        for c, o in zip(cfgs, old):
            c._attn_implementation = o
        _cache[0] = _cache[1] = None
