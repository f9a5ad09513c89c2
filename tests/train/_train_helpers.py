"""Helpers shared by the training tests (images, rows, JSONL files)."""

from __future__ import annotations

import json
from pathlib import Path


def make_images(folder: Path) -> dict[str, Path]:
    """Two deterministic RGB images of different sizes (different patch grids)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for name, (w, h) in {"a.png": (84, 56), "b.png": (56, 112)}.items():
        arr = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / name)
        out[name] = folder / name
    return out


def qwen_row(i: int, image: str | None, q: str, a: str) -> dict:
    content = ([{"type": "image", "image": image}] if image else []) + [{"type": "text", "text": q}]
    return {
        "id": f"q{i}",
        "messages": [
            {"role": "user", "content": content},
            {"role": "assistant", "content": [{"type": "text", "text": a}]},
        ],
    }


MIXED_ROWS = (
    (0, "images/a.png", "Which organ?", "The left lung, upper lobe."),
    (1, None, "Define pneumothorax briefly.", "Air in the pleural space."),
    (2, "images/b.png", "Modality?", "CT"),
    (3, None, "Is aspirin an NSAID?", "Yes, it is."),
    (4, "images/a.png", "Any fracture? Answer yes or no.", "No"),
)
"""Image and text-only conversations of different lengths (packing and loss tests)."""


def encoded_samples(model_dir: Path, tmp: Path, n: int = len(MIXED_ROWS)) -> tuple[list, object]:
    """The first ``n`` of :data:`MIXED_ROWS` encoded by the model's processor (images written
    under ``tmp/images``), and the processor."""
    from transformers import AutoProcessor

    from lingshu.train.data.sft import encode, normalise

    proc = AutoProcessor.from_pretrained(model_dir)
    make_images(tmp / "images")
    samples = [encode(proc, normalise(qwen_row(*r), tmp), max_length=512, min_pixels=56 * 56,
                      max_pixels=28 * 28 * 64) for r in MIXED_ROWS[:n]]
    return samples, proc


def write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def tiny_recipe(tmp: Path, model_dir: Path, data: Path, **stage) -> Path:
    """A one-stage SFT recipe on the tiny model; ``stage`` overrides stage keys."""
    import yaml

    st = {
        "name": "sft",
        "kind": "sft",
        "data": [{"path": str(data)}],
        "parts": {"vision": 1e-3, "merger": 2e-3, "llm": "frozen"},
        "max_steps": 4,
        "max_length": 256,
        "per_device_batch": 2,
        "grad_accum": 2,
        "warmup_steps": 1,
        "min_pixels": 3136,
        "max_pixels": 12544,
        "checkpoint_every": 2,
    }
    st.update(stage)
    rec = {"name": "t", "base_model": str(model_dir), "output_dir": str(tmp / "run"), "seed": 0,
           "precision": "fp32", "stages": [st]}
    p = tmp / "recipe.yaml"
    p.write_text(yaml.safe_dump(rec))
    return p
