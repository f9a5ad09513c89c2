"""A zero-weight dummy image through the vision tower on text-only micro-batches.

Why: under ZeRO-3 (and FSDP) every module's weights are gathered by a collective when the
module runs, and its gradients are reduced by a collective in backward. Qwen2.5-VL skips its
vision tower when a micro-batch has no image, so a rank with a text-only micro-batch never
joins the gathers and reductions that a rank with an image waits in: the run hangs (issue
19; the known class behind EasyR1 PR #530 and verl PR #3734, also LLaMA-Factory PR #6233).
The field's fix, done here in our own way: on a text-only micro-batch, run the smallest
valid image (one 2x2 grid of patches, zeros) through the tower and merger, and add
``0 x mean(features)`` to the text embeddings. The collectives then match on every rank in
the same order (embeddings, vision tower, language model, as a batch with an image runs),
and the loss and every gradient are unchanged (``x + 0 x finite = x``).
"""

from __future__ import annotations

from typing import Any


def _vl_parts(model: Any) -> tuple[Any, Any] | None:
    """(vision tower, language model) of a Qwen2-VL-style model, through PEFT / engine wrappers."""
    seen = 0
    inner = model
    while inner is not None and seen < 6:
        visual, lm = getattr(inner, "visual", None), getattr(inner, "language_model", None)
        if visual is not None and lm is not None:
            return visual, lm
        inner = getattr(inner, "model", None) or getattr(inner, "base_model", None)
        seen += 1
    return None


class VisionKeepAlive:
    """Set :attr:`active` before a micro-batch's forward; while it is true the language
    model's pre-forward hook runs the dummy image first and ties its output into the
    embeddings with weight zero."""

    def __init__(self, model: Any) -> None:
        parts = _vl_parts(model)
        self.active = False
        self.handle = None
        if parts is None:
            return
        self.visual, lm = parts
        vc = self.visual.config
        merge = getattr(vc, "spatial_merge_size", 2)
        per_patch = getattr(vc, "in_channels", 3) * getattr(vc, "temporal_patch_size", 2) * vc.patch_size ** 2
        self.grid = (1, merge, merge)  # the smallest grid the merger accepts: one merged token
        self.per_patch = per_patch
        # prepend: before the engine's own pre-forward hook on the language model, so the
        # tower runs (and gathers its weights) between the embeddings and the language model
        self.handle = lm.register_forward_pre_hook(self._hook, with_kwargs=True, prepend=True)

    @property
    def supported(self) -> bool:
        return self.handle is not None

    def _hook(self, module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        emb = kwargs.get("inputs_embeds")
        if not self.active or emb is None:
            return None
        import torch

        n = self.grid[0] * self.grid[1] * self.grid[2]
        pixels = torch.zeros(n, self.per_patch, dtype=emb.dtype, device=emb.device)
        grid = torch.tensor([self.grid], dtype=torch.long, device=emb.device)
        out = self.visual(pixels, grid_thw=grid)
        feats = out.pooler_output if hasattr(out, "pooler_output") else out
        kwargs["inputs_embeds"] = emb + 0.0 * feats.float().mean().to(emb.dtype)
        return args, kwargs

    def close(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
