"""Image augmentation for supervised stages: a fresh random view of each image per step.

Why: Lingshu-Nano's vision tower starts from random weights and the demo trains it on ~260
images. A tower that sees the same pixels every epoch memorises them; random crops and
mirror images are the standard remedy for small-data vision training. A linear probe of the
fresh tower on the demo's labels (docs/pipeline.md, "What made it learn") went from 60-68%
(20 epochs) to 67-81% (epochs 19-30) held-out modality accuracy with crops of 75-100% of each side and mirroring.

Views are a pure function of (seed, step, unit, image): a resumed run draws the same views
as an uninterrupted one. The augmented image is resized back to the encoded size, so the
number of visual tokens, and therefore the tokenized sample, never changes; only its
``pixel_values`` are recomputed.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from lingshu.train.config import ImageAugment


def augment_image(image: Any, rng: random.Random, cfg: ImageAugment) -> Any:
    """One random view of a PIL ``image``, the same size as ``image``."""
    from PIL import Image, ImageEnhance, ImageOps

    w, h = image.size
    out = image
    if cfg.crop < 1.0:
        s = rng.uniform(cfg.crop, 1.0)
        cw, ch = max(1, round(w * s)), max(1, round(h * s))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        out = out.crop((x, y, x + cw, y + ch)).resize((w, h), _bicubic())
    # each option draws only when it is on, so adding one leaves the others' views unchanged
    if cfg.zoom_out < 1.0:
        s = rng.uniform(cfg.zoom_out, 1.0)
        zw, zh = max(1, round(w * s)), max(1, round(h * s))
        x, y = rng.randint(0, w - zw), rng.randint(0, h - zh)
        canvas = Image.new(out.mode, (w, h))  # black
        canvas.paste(out.resize((zw, zh), _bicubic()), (x, y))
        out = canvas
    if cfg.contrast > 0.0:
        out = ImageEnhance.Contrast(out).enhance(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast))
    if cfg.flip and rng.random() < 0.5:
        out = ImageOps.mirror(out)
    return out


def augment_sample(sample: Any, processor: Any, rng: random.Random, cfg: ImageAugment,
                   min_pixels: int, max_pixels: int) -> Any:
    """``sample`` (an ``Encoded`` that kept its images) with pixel values of a fresh view."""
    if not cfg.active or not sample.images:
        return sample
    views = [augment_image(im, rng, cfg) for im in sample.images]
    out = processor.image_processor(images=views, return_tensors="pt",
                                    size={"shortest_edge": min_pixels, "longest_edge": max_pixels})
    if not (out["image_grid_thw"] == sample.image_grid_thw).all():
        raise RuntimeError(f"sample {sample.id}: an augmented view changed the image grid "
                           f"{sample.image_grid_thw.tolist()} -> {out['image_grid_thw'].tolist()}")
    return replace(sample, pixel_values=out["pixel_values"].to(sample.pixel_values.dtype))


def view_rng(seed: int, step: int, unit: int, position: int) -> random.Random:
    """The generator of one sample's view at one step: independent of batch layout and resume."""
    return random.Random(f"{seed}:augment:{step}:{unit}:{position}")


def _bicubic() -> Any:
    from PIL import Image

    return Image.Resampling.BICUBIC
