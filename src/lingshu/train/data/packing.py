"""Batches for SFT: padded (stages 1-2) and packed (stage 3), and their token-sum loss.

Packing puts several samples in one sequence. For the result to equal training on the
samples one by one, three things must hold, and the packed-vs-unpacked test checks all of
them on loss and gradients:

1. attention stays inside each sample: we pass no attention mask and a row of text
   positions that restarts at 0 for every sample. ``loss_sum`` then runs the language
   model's attention per segment (``packed_attention``: causal SDPA on each sample's span,
   no L x L mask); models whose attention layers do not see the positions fall back to
   transformers' own route (``Qwen2_5_VLTextModel``, "packed position ids"), which builds
   a block-diagonal causal mask from where they restart;
2. rotary positions restart per sample, on all three mRoPE axes: each sample's
   (time, height, width) positions come from the model's own ``get_rope_index`` on that
   sample alone, so image tokens get the same 3-D positions as unpacked. Getting this wrong
   is the bug LLaMA-Factory fixed twice (PRs #7754, #10783; BRIEF §7);
3. no token predicts the first token of the next sample: labels are shifted per sample
   before concatenation, so the last token of a sample has no target.

The loss is a sum over assistant tokens; the trainer divides by the number of such tokens
in the whole optimizer step (all micro-batches, all processes), so packing, padding, batch
size and process count do not change the objective.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from lingshu.train.data.packed_attention import inner_model
from lingshu.train.data.sft import IGNORE, Encoded


def pack_greedy(lengths: Sequence[int], max_length: int, seed: int | None = None) -> list[list[int]]:
    """First fit: indices grouped so that each group's total length fits ``max_length``;
    every index appears once, and the result is a pure function of the arguments.

    ``seed=None`` visits the samples longest first (first-fit decreasing, the tightest
    packing). With a seed they are visited in a seeded random order, which is how training
    packs: decreasing order fills each pack with samples of one length, and a sample's
    length follows its label (the demo's "X-ray. Answer: C" is a token longer than "CT.
    Answer: A"), so a pack held one answer and an optimizer step taught it. The demo's
    packed stage 3 lost 6-17 points of accuracy that way, its modality answers drifting to
    "X-ray", while the same stage unpacked held (docs/pipeline.md). Random order costs a
    few percent of fill on short samples.

    O(n log n): the leftmost pack with room is found in a max tree over the packs' room
    (issue 19: the former scan of every open pack took 24 s for 40K samples and would take
    days for stage 3's 7.1M). The packs are exactly those of the scan, so the fill ratio and
    every seeded run stay as they were.
    """
    if seed is None:
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    else:
        order = random.Random(f"pack:{seed}").sample(range(len(lengths)), len(lengths))
    bins: list[list[int]] = []
    tree = _RoomTree(max_length)
    for i in order:
        b = tree.take(lengths[i])
        if b == len(bins):
            bins.append([])
        bins[b].append(i)
    return [sorted(b) for b in bins]


class _RoomTree:
    """Room left in each pack, in a max segment tree; leaves past the last open pack hold a
    whole empty pack, so "the leftmost leaf with room >= n" is first fit, a new pack
    included. Doubles its leaves when the packs outgrow them."""

    def __init__(self, max_length: int, leaves: int = 1024) -> None:
        self.full, self.cap, self.opened = max_length, leaves, 0
        self.tree = [max_length] * (2 * leaves)

    def take(self, n: int) -> int:
        """Put ``n`` tokens in the first pack with room; return the pack's index."""
        tree = self.tree
        if tree[1] >= n:
            i = 1
            while i < self.cap:
                i = 2 * i if tree[2 * i] >= n else 2 * i + 1
        else:  # longer than a pack: alone in a new one, as the scan did
            i = self.cap + self.opened
        b = i - self.cap
        self.opened = max(self.opened, b + 1)
        tree[i] -= n
        while i > 1:
            i //= 2
            top = max(tree[2 * i], tree[2 * i + 1])
            if tree[i] == top:
                break
            tree[i] = top
        if self.opened == self.cap:
            self._grow()
        return b

    def _grow(self) -> None:
        old, cap = self.tree, self.cap
        self.cap = 2 * cap
        tree = [0] * (2 * self.cap)
        tree[self.cap:self.cap + cap] = old[cap:]
        tree[self.cap + cap:] = [self.full] * cap
        for i in range(self.cap - 1, 0, -1):
            tree[i] = max(tree[2 * i], tree[2 * i + 1])
        self.tree = tree


def _shifted(labels: Any) -> Any:
    import torch

    return torch.cat([labels[1:], torch.tensor([IGNORE], dtype=labels.dtype)])


def _vision(samples: Sequence[Encoded]) -> dict:
    import torch

    pv = [s.pixel_values for s in samples if s.pixel_values is not None]
    grid = [s.image_grid_thw for s in samples if s.image_grid_thw is not None]
    if not pv:
        return {}
    return {"pixel_values": torch.cat(pv), "image_grid_thw": torch.cat(grid)}


def collate_padded(samples: Sequence[Encoded], pad_id: int) -> dict:
    """Right-padded batch; the model computes mRoPE positions from ``mm_token_type_ids``."""
    import torch

    L = max(s.length for s in samples)
    B = len(samples)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    att = torch.zeros((B, L), dtype=torch.long)
    tt = torch.zeros((B, L), dtype=torch.long)
    tgt = torch.full((B, L), IGNORE, dtype=torch.long)
    for b, s in enumerate(samples):
        n = s.length
        ids[b, :n] = s.input_ids
        att[b, :n] = 1
        tt[b, :n] = s.mm_token_type_ids
        tgt[b, :n] = _shifted(s.labels)
    inputs = {"input_ids": ids, "attention_mask": att, "mm_token_type_ids": tt, **_vision(samples)}
    return {"inputs": inputs, "targets": tgt}


RopeFn = Callable[[Encoded], Any]
"""Sample -> its (3, L) multimodal rotary positions, as the model computes them unpacked."""


def rope_fn_for(model: Any) -> RopeFn:
    """The model's own ``get_rope_index`` applied to one sample."""
    import torch

    inner = model
    while not hasattr(inner, "get_rope_index") and hasattr(inner, "model"):
        inner = inner.model

    def fn(s: Encoded) -> Any:
        with torch.no_grad():
            pos, _ = inner.get_rope_index(
                input_ids=s.input_ids[None],
                mm_token_type_ids=s.mm_token_type_ids[None].int(),
                image_grid_thw=s.image_grid_thw,
                attention_mask=torch.ones_like(s.input_ids)[None],
            )
        return pos[:, 0, :]

    return fn


def collate_packed(packs: Sequence[Sequence[Encoded]], rope_fn: RopeFn, pad_id: int) -> dict:
    """One row per pack. ``position_ids`` is (4, B, L): row 0 the per-sample text positions
    (0..n-1, from which transformers builds the block-diagonal mask), rows 1-3 the per-sample
    mRoPE positions. The tail padding forms its own block and has no targets."""
    import torch

    L = max(sum(s.length for s in p) for p in packs)
    B = len(packs)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    pos = torch.zeros((4, B, L), dtype=torch.long)
    tgt = torch.full((B, L), IGNORE, dtype=torch.long)
    flat: list[Encoded] = []
    for b, pack in enumerate(packs):
        off = 0
        for s in pack:
            n = s.length
            ids[b, off : off + n] = s.input_ids
            pos[0, b, off : off + n] = torch.arange(n)
            pos[1:, b, off : off + n] = rope_fn(s)
            tgt[b, off : off + n] = _shifted(s.labels)
            off += n
            flat.append(s)
        if off < L:
            pos[:, b, off:] = torch.arange(L - off)
    inputs = {"input_ids": ids, "position_ids": pos, **_vision(flat)}
    return {"inputs": inputs, "targets": tgt, "packed": True}


def _takes_logits_to_keep(model: Any) -> bool:
    import inspect

    inner = inner_model(model)
    if inner is None:
        return False
    try:
        return "logits_to_keep" in inspect.signature(inner.forward).parameters
    except (TypeError, ValueError):
        return False


_NO_SEGMENT_ATTENTION: set[type] = set()


def _forward(model: Any, batch: dict, **extra: Any) -> Any:
    """The model's output; packed batches attend per segment (``packed_attention``) where the
    model's attention layers see the position ids, else through transformers' own
    block-diagonal mask from the same restarting positions (identical result, slower)."""
    if batch.get("packed") and type(model) not in _NO_SEGMENT_ATTENTION:
        from lingshu.train.data.packed_attention import NoSegmentInfo, packed_attention

        try:
            with packed_attention(model):
                return model(**batch["inputs"], use_cache=False, **extra)
        except NoSegmentInfo:
            _NO_SEGMENT_ATTENTION.add(type(model))
    return model(**batch["inputs"], use_cache=False, **extra)


def loss_sum(model: Any, batch: dict) -> tuple[Any, int]:
    """(sum of token cross-entropies over targets, number of targets).

    The vocabulary projection runs only at positions that have a target: transformers'
    causal LMs (Llama/SmolLM2, Qwen2-VL, Qwen2.5-VL) take ``logits_to_keep`` as a boolean
    (batch, length) mask and apply ``lm_head`` to those hidden states alone
    (``modeling_utils.slice_logits_to_keep``), returning (n_targets, vocab) logits. In
    assistant-only SFT most positions are prompt, image or padding, and the full
    (batch, length, vocab) float logits were the largest tensor of the step (vocab 49,152 for
    SmolLM2) forward and backward. The targets are already shifted (position t holds the
    label of token t+1), so the kept positions are exactly those with a target. Models whose
    forward has no ``logits_to_keep``, or that return full logits anyway, take the
    full-logits path; the result is the same (tests/train/test_loss_sum.py).
    """
    import torch.nn.functional as F

    tgt = batch["targets"]
    keep = tgt != IGNORE
    n = int(keep.sum())
    if _takes_logits_to_keep(model):
        dev = batch["inputs"]["input_ids"].device
        logits = _forward(model, batch, logits_to_keep=keep.to(dev)).logits
        if logits.ndim == 2 and logits.shape[0] == n:
            return F.cross_entropy(logits.float(), tgt[keep].to(logits.device), reduction="sum"), n
    else:
        logits = _forward(model, batch).logits
    if logits.ndim != 3:  # pragma: no cover - a model that sliced differently; recompute in full
        logits = _forward(model, batch).logits
    tgt = tgt.to(logits.device)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), tgt.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    return loss, n
