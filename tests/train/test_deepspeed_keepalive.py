"""The dummy image of text-only micro-batches (train/vision_keepalive.py) runs the vision
tower and merger in the language model's place in the order, and changes neither the loss
nor any gradient: checked in one process against the same batch without it (exact equality:
``x + 0 * finite`` is ``x`` in floating point)."""

from __future__ import annotations

import torch

from lingshu.train.data.packing import collate_padded, loss_sum
from lingshu.train.vision_keepalive import VisionKeepAlive

from _train_helpers import encoded_samples


def _grads(model, batch, keep: VisionKeepAlive | None) -> tuple[float, dict]:
    model.zero_grad(set_to_none=True)
    if keep is not None:
        keep.active = "pixel_values" not in batch["inputs"]
    lsum, _ = loss_sum(model, batch)
    lsum.backward()
    return float(lsum.detach()), {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}


def test_dummy_image_changes_nothing_but_runs_the_tower(tiny_vl_dir, tmp_path):
    from transformers import AutoModelForImageTextToText

    samples, proc = encoded_samples(tiny_vl_dir, tmp_path, n=4)
    text_only = [s for s in samples if s.pixel_values is None]
    assert text_only
    model = AutoModelForImageTextToText.from_pretrained(tiny_vl_dir, dtype=torch.float32)
    batch = collate_padded(text_only, proc.tokenizer.pad_token_id)
    order: list[str] = []
    model.model.visual.register_forward_hook(lambda *a: order.append("visual"))
    model.model.language_model.register_forward_pre_hook(lambda *a: order.append("lm"))
    model.model.language_model.embed_tokens.register_forward_hook(lambda *a: order.append("embed"))

    loss0, g0 = _grads(model, batch, None)
    assert order == ["embed", "lm"]  # without it a text-only batch skips the tower
    order.clear()
    keep = VisionKeepAlive(model)
    assert keep.supported
    loss1, g1 = _grads(model, batch, keep)
    assert order == ["embed", "visual", "lm"]  # the order a batch with an image runs in
    assert loss1 == loss0
    for n, g in g0.items():
        if g is None:  # the tower: no gradient before, exact zeros with the dummy
            assert n.startswith("model.visual.") and torch.count_nonzero(g1[n]) == 0, n
        else:
            assert torch.equal(g, g1[n]), n
    keep.close()
    order.clear()
    _grads(model, batch, None)
    assert order == ["embed", "lm"]
