"""Embedding alignment: a cheap head start for a stage that trains the vision tower and merger.

Stage 1 (shallow alignment) teaches the merger to emit what the frozen language model reads
as "chest" or "MRI". Through the language model that signal is slow: every step runs the
whole model forward and backward to reach the visual tokens. On the demo (Lingshu-Nano:
a fresh 3M-parameter tower in front of SmolLM2-135M, 260 captioned images) the held-out
captions named the right organ only after ~50 such steps, and the modality hardly ever
(docs/pipeline.md, "What made it learn").

This phase trains the same weights against the language model's *input embedding table*
instead, which never runs a layer of the language model: each image's visual tokens are
mean-pooled, and the pooled vector is a classifier over the vocabulary by cosine similarity
with every token's input embedding (a softmax at ``temperature``). The targets are the
tokens of the sample's own assistant turn (its caption), weighted by inverse document
frequency over the stage's image samples, so that template words every caption shares ("An",
"image", "of the") weigh nothing and the words that tell images apart ("MRI", "head") carry
the loss. Cosine, not a dot product: the language model's first operation on an input
vector is an RMS norm, so the direction is what it reads. It is bag-of-words caption
pretraining with the frozen embedding table as the classifier.

Measured on the demo (one thread, another job running; ``docs/pipeline.md``): 8 epochs (~130
optimizer steps of 16 images, ~1 s of compute each) took the held-out images' nearest organ
word from 29% to 79% and nearest modality word from 2% to 70%, with no language-model step.

The phase runs before the stage's first language-model step and only then (a resumed stage
already holds its result in the checkpointed weights). It trains the parts the stage trains
among the vision tower and the merger, at the stage's learning rates, with its own AdamW,
warmup and cosine decay, and the stage's image augmentation.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lingshu.train.config import EmbeddingAlignment
from lingshu.train.data.sft import IGNORE, Encoded


def caption_targets(samples: Sequence[Encoded], special_ids: set[int]) -> list[tuple[int, list[int], list[float]]]:
    """``(sample index, token ids, weights)`` of every image sample with a weighted target.

    A sample's targets are the distinct tokens of its assistant turn (its label tokens, the
    same tokenization the language-model loss uses), minus ``special_ids``; a token's weight
    is ``log(N / df)`` over the ``N`` image samples (``df``: samples whose targets hold it), so
    a token in every caption weighs 0 and is dropped. Samples left with no target are skipped.
    """
    images = [(i, s) for i, s in enumerate(samples) if s.pixel_values is not None]
    bags = [(i, sorted({int(t) for t in s.labels[s.labels != IGNORE].tolist()} - special_ids))
            for i, s in images]
    df = Counter(t for _, bag in bags for t in bag)
    n = len(bags)
    out = []
    for i, bag in bags:
        kept = [(t, math.log(n / df[t])) for t in bag if df[t] < n]
        if kept:
            out.append((i, [t for t, _ in kept], [w for _, w in kept]))
    return out


def bag_of_words_loss(pooled: Any, embeddings: Any, targets: Sequence[tuple[list[int], list[float]]],
                      temperature: float, *, unit_rows: bool = False) -> Any:
    """Mean over samples of ``-sum_t w_t log softmax(cos(pooled, E) / T)[t] / sum_t w_t``.

    ``pooled``: [B, H], one vector per sample; ``embeddings``: [V, H], the input embedding
    table (``unit_rows``: already normalized to unit rows, as the phase passes it once, which
    saves normalizing 49k rows every step); ``targets``: per sample, token ids and weights.
    """
    import torch
    import torch.nn.functional as F

    table = embeddings.float() if unit_rows else F.normalize(embeddings.float(), dim=-1)
    logits = F.normalize(pooled.float(), dim=-1) @ table.T
    logp = (logits / temperature).log_softmax(-1)
    losses = []
    for row, (ids, weights) in enumerate(targets):
        w = torch.tensor(weights, dtype=logp.dtype, device=logp.device)
        losses.append(-(logp[row, torch.tensor(ids, device=logp.device)] * w).sum() / w.sum())
    return torch.stack(losses).mean()


def visual_module(model: Any) -> Any:
    """The vision tower with its merger (``model.visual`` or ``model.model.visual``)."""
    for owner in (getattr(model, "model", None), model):
        vis = getattr(owner, "visual", None) if owner is not None else None
        if vis is not None:
            return vis
    raise ValueError(f"{type(model).__name__} has no vision tower (.visual); "
                     "embedding_alignment needs an image-text model")


def pooled_visual(vis: Any, pixel_values: Any, grid_thw: Any, images_per_sample: Sequence[int]) -> Any:
    """One mean-pooled visual-token vector per sample ([B, H]): the merger's output tokens of
    each sample's images, averaged."""
    import torch

    out = vis(pixel_values, grid_thw=grid_thw)
    tokens = out if torch.is_tensor(out) else getattr(out, "pooler_output", None)
    if tokens is None:
        tokens = out[0]
    merge = int(getattr(vis, "spatial_merge_size", 2)) ** 2
    per_image = torch.split(tokens, (grid_thw.prod(-1) // merge).tolist())
    pooled, k = [], 0
    for n in images_per_sample:
        pooled.append(torch.cat(per_image[k:k + n]).mean(0))
        k += n
    return torch.stack(pooled)


def align_to_embeddings(model: Any, samples: Sequence[Encoded], processor: Any, cfg: EmbeddingAlignment,
                        lrs: dict[str, float | None], *, seed: int, augment: Any = None,
                        min_pixels: int | None = None, max_pixels: int | None = None,
                        autocast: Any = None, device: Any = None, log_path: Path | None = None,
                        progress: bool = False) -> dict[str, Any]:
    """Run the phase on ``model`` in place; return its summary (steps, first and last loss).

    ``lrs``: the stage's learning rates by part (``vision``, ``merger``; ``None`` = frozen).
    ``augment``: the stage's ``ImageAugment`` (a new view of each image every epoch).
    ``device``: where the phase runs; only the vision tower and the embedding table go there
    (and back), so a model that is sharded later never sits whole on one device.
    """
    import contextlib

    import torch
    import torch.nn.functional as F

    from lingshu.train.data.augment import augment_sample
    from lingshu.train.parts import part_of

    vis = visual_module(model)
    special = set(getattr(processor.tokenizer, "all_special_ids", []) or [])
    targets = caption_targets(samples, special)
    if not targets:
        raise ValueError("embedding_alignment: no image sample has a caption word that tells it "
                         "apart (every target token is in every caption)")
    vis_ids = {id(p) for p in vis.parameters()}
    groups: dict[str, list[Any]] = {}
    for name, p in model.named_parameters():
        if id(p) in vis_ids and lrs.get(part_of(name)) is not None:
            groups.setdefault(part_of(name), []).append(p)
    if not groups:
        raise ValueError("embedding_alignment trains the vision tower or the merger: give one of "
                         "them a learning rate in this stage")
    opt = torch.optim.AdamW([{"params": ps, "lr": float(lrs[part])} for part, ps in groups.items()],
                            weight_decay=0.0)
    per_epoch = math.ceil(len(targets) / cfg.batch)
    total = cfg.epochs * per_epoch
    warm = min(cfg.warmup_steps, max(1, total // 10))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    home = next(vis.parameters()).device
    device = device if device is not None else home
    vis.to(device)
    table = F.normalize(model.get_input_embeddings().weight.detach().to(device).float(), dim=-1)
    trainable = [p for ps in groups.values() for p in ps]
    flags = {id(p): p.requires_grad for p in vis.parameters()}
    chosen_ids = {id(p) for p in trainable}
    for p in vis.parameters():
        p.requires_grad_(id(p) in chosen_ids)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="embedding alignment", unit="step", dynamic_ncols=True)
    rng = random.Random(f"{seed}:embedding-alignment")
    records, step = [], 0
    was_training = vis.training
    vis.train()
    try:
        for epoch in range(cfg.epochs):
            order = list(range(len(targets)))
            rng.shuffle(order)
            for start in range(0, len(order), cfg.batch):
                chosen = [targets[j] for j in order[start:start + cfg.batch]]
                views = []
                for i, _, _ in chosen:
                    s = samples[i]
                    if augment is not None and augment.active and s.images:
                        s = augment_sample(s, processor, random.Random(f"{seed}:align:{epoch}:{i}"),
                                           augment, min_pixels, max_pixels)
                    views.append(s)
                pv = torch.cat([s.pixel_values for s in views])
                thw = torch.cat([s.image_grid_thw for s in views])
                with autocast() if autocast is not None else contextlib.nullcontext():
                    pooled = pooled_visual(vis, pv.to(device), thw.to(device),
                                           [int(s.image_grid_thw.shape[0]) for s in views])
                loss = bag_of_words_loss(pooled, table, [(ids, w) for _, ids, w in chosen],
                                         cfg.temperature, unit_rows=True)
                loss.backward()
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                records.append({"align_step": step, "epoch": epoch + 1, "loss": round(float(loss.detach()), 5)})
                if bar is not None:
                    bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        for p in vis.parameters():
            p.requires_grad_(flags[id(p)])
        vis.train(was_training)
        vis.to(home)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        for p in trainable:  # every rank ran the same phase; make the result bitwise equal
            torch.distributed.broadcast(p.data, src=0)
    summary = {"steps": step, "epochs": cfg.epochs, "images": len(targets),
               "first_loss": records[0]["loss"], "last_loss": records[-1]["loss"]}
    if log_path is not None:
        from lingshu.core.io import atomic_write_text

        atomic_write_text(log_path, "".join(json.dumps(r) + "\n" for r in records))
    return summary
