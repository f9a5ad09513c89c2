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
