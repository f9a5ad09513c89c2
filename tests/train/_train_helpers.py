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
