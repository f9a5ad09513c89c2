"""Per-step image augmentation: hand-checked views, the grid never changes, views are a pure
function of (seed, step, unit, image) so resume draws the same ones, and a stage trains with it."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from pydantic import ValidationError

from lingshu.train.data.augment import ImageAugment, augment_image, augment_sample, view_rng

from _train_helpers import encoded_samples


def _ramp(w=8, h=6):
    arr = np.arange(w * h * 3, dtype=np.uint8).reshape(h, w, 3)
    return Image.fromarray(arr)


def test_no_augmentation_is_the_identity():
    im = _ramp()
    assert not ImageAugment().active
    assert np.array_equal(np.asarray(augment_image(im, random.Random(0), ImageAugment())), np.asarray(im))


def test_flip_mirrors_when_the_draw_says_so():
    im = _ramp()
    cfg = ImageAugment(flip=True)
    for seed in range(20):
        flips = random.Random(seed).random() < 0.5  # the one draw a flip-only view makes
        got = np.asarray(augment_image(im, random.Random(seed), cfg))
        want = np.asarray(ImageOps.mirror(im) if flips else im)
        assert np.array_equal(got, want)


def test_crop_is_a_resized_window_of_the_image():
    im = _ramp(40, 30)
    cfg = ImageAugment(crop=0.5)
    rng = random.Random(3)
    # the same draws by hand: scale, then the window's corner
    ref = random.Random(3)
    s = ref.uniform(0.5, 1.0)
    cw, ch = round(40 * s), round(30 * s)
    x, y = ref.randint(0, 40 - cw), ref.randint(0, 30 - ch)
    want = im.crop((x, y, x + cw, y + ch)).resize((40, 30), Image.Resampling.BICUBIC)
    got = augment_image(im, rng, cfg)
    assert got.size == (40, 30)
    assert np.array_equal(np.asarray(got), np.asarray(want))


def test_zoom_out_places_a_shrunk_image_on_black():
    im = Image.new("RGB", (40, 30), (255, 255, 255))
    cfg = ImageAugment(zoom_out=0.5)
    ref = random.Random(5)  # the same draws by hand: scale, then the corner
    s = ref.uniform(0.5, 1.0)
    zw, zh = round(40 * s), round(30 * s)
    x, y = ref.randint(0, 40 - zw), ref.randint(0, 30 - zh)
    got = np.asarray(augment_image(im, random.Random(5), cfg))
    assert got.shape == (30, 40, 3)
    lit = np.argwhere(got.sum(-1) > 0)
    assert (lit.min(0).tolist(), lit.max(0).tolist()) == ([y, x], [y + zh - 1, x + zw - 1])
    assert got.sum(-1)[lit[:, 0], lit[:, 1]].min() == 3 * 255  # a white image stays white inside
    assert cfg.active


def test_contrast_scales_about_the_mean_by_the_drawn_factor():
    arr = np.zeros((4, 4, 3), dtype=np.uint8)
    arr[:, :2] = 100
    arr[:, 2:] = 200  # grey mean 150
    im = Image.fromarray(arr)
    factor = random.Random(2).uniform(0.6, 1.4)
    got = np.asarray(augment_image(im, random.Random(2), ImageAugment(contrast=0.4))).astype(int)
    # PIL's contrast: mean + factor * (v - mean), the mean of the grey image, rounded to an int
    want_lo, want_hi = 150 + factor * (100 - 150), 150 + factor * (200 - 150)
    assert abs(got[0, 0, 0] - want_lo) <= 1 and abs(got[0, 3, 0] - want_hi) <= 1


def test_new_options_off_keep_the_old_views():
    im = _ramp(40, 30)
    for seed in range(5):
        old = augment_image(im, random.Random(seed), ImageAugment(crop=0.7, flip=True))
        new = augment_image(im, random.Random(seed), ImageAugment(crop=0.7, flip=True, zoom_out=1.0,
                                                                  contrast=0.0))
        assert np.array_equal(np.asarray(old), np.asarray(new))


def test_config_is_typed():
    with pytest.raises(ValidationError):
        ImageAugment(crop=0.0)
    with pytest.raises(ValidationError):
        ImageAugment(flips=True)


def test_view_rng_depends_on_every_coordinate():
    draws = {(s, st, u, k): view_rng(s, st, u, k).random()
             for s in (0, 1) for st in (1, 2) for u in (0, 5) for k in (0, 1)}
    assert len(set(draws.values())) == len(draws)
    assert view_rng(0, 7, 3, 0).random() == view_rng(0, 7, 3, 0).random()


def test_augmented_sample_keeps_tokens_and_grid(tiny_vl_dir, tmp_path):
    from transformers import AutoProcessor

    from lingshu.train.data.sft import encode, normalise

    from _train_helpers import make_images, qwen_row

    proc = AutoProcessor.from_pretrained(tiny_vl_dir)
    make_images(tmp_path / "images")
    s = encode(proc, normalise(qwen_row(0, "images/a.png", "Which organ?", "Lung."), tmp_path),
               max_length=512, min_pixels=56 * 56, max_pixels=28 * 28 * 64, keep_images=True)
    assert s.images and s.images[0].size == (84, 56)
    same = augment_sample(s, proc, random.Random(0), ImageAugment(), 56 * 56, 28 * 28 * 64)
    assert same is s
    cfg = ImageAugment(crop=0.6, flip=True)
    a = augment_sample(s, proc, view_rng(0, 1, 0, 0), cfg, 56 * 56, 28 * 28 * 64)
    b = augment_sample(s, proc, view_rng(0, 1, 0, 0), cfg, 56 * 56, 28 * 28 * 64)
    c = augment_sample(s, proc, view_rng(0, 2, 0, 0), cfg, 56 * 56, 28 * 28 * 64)
    assert torch.equal(a.input_ids, s.input_ids) and torch.equal(a.labels, s.labels)
    assert torch.equal(a.image_grid_thw, s.image_grid_thw)
    assert a.pixel_values.shape == s.pixel_values.shape
    assert torch.equal(a.pixel_values, b.pixel_values)          # same coordinates, same view
    assert not torch.equal(a.pixel_values, c.pixel_values)      # another step, another view
    assert not torch.equal(a.pixel_values, s.pixel_values)
    # the view's pixels are the processor's own encoding of the augmented image
    view = augment_image(s.images[0], view_rng(0, 1, 0, 0), cfg)
    ref = proc.image_processor(images=[view], return_tensors="pt",
                               size={"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 64})
    assert torch.equal(a.pixel_values, ref["pixel_values"])


def test_text_only_samples_pass_through(tiny_vl_dir, tmp_path):
    samples, proc = encoded_samples(tiny_vl_dir, tmp_path)
    text = next(s for s in samples if s.pixel_values is None)
    assert augment_sample(text, proc, random.Random(0), ImageAugment(crop=0.5), 3136, 12544) is text


@pytest.mark.slow
def test_stage_trains_with_augmentation_and_resumes_identically(tiny_vl_dir, tmp_path):
    from lingshu.train import load_recipe, run_recipe

    from _train_helpers import make_images, qwen_row, tiny_recipe, write_jsonl

    make_images(tmp_path / "images")
    rows = [qwen_row(i, f"images/{'ab'[i % 2]}.png", f"Which organ {i}?", "Lung.") for i in range(6)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)

    def losses(name, stop_after=None, augment=None):
        d = tmp_path / name
        d.mkdir(exist_ok=True)
        path = tiny_recipe(d, tiny_vl_dir, data, max_steps=4, **({"augment": augment} if augment else {}))
        run_recipe(load_recipe(path), path, [], stop_after=stop_after)
        lines = (d / "run" / "metrics.jsonl").read_text().splitlines()
        return [json.loads(x)["loss"] for x in lines if '"loss"' in x]

    aug = {"crop": 0.7, "flip": True}
    full = losses("full", augment=aug)
    losses("cut", stop_after=2, augment=aug)
    resumed = losses("cut", augment=aug)
    plain = losses("plain")
    assert len(full) == 4 and resumed == pytest.approx(full, rel=1e-6)  # same views after resume
    assert full[0] != pytest.approx(plain[0], rel=1e-6)  # the views are not the stored pixels
