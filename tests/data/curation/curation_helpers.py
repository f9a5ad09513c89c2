"""Helpers of the curation tests: bundled images, crafted files, recipe and JSONL writers."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BENCH = REPO / "data" / "benchmarks"
RAD_IMAGES = BENCH / "vqa-rad" / "VQA_RAD Image Folder"
SLAKE = BENCH / "slake"


def rad_images(n: int) -> list[Path]:
    return sorted(RAD_IMAGES.glob("*.jpg"))[:n]


def bomb_png(path: Path, side: int = 100_000) -> Path:
    """A valid PNG header claiming side x side pixels with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                     chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def crafted(tmp_path) -> dict[str, Path]:
    """A real VQA-RAD image and crafted copies: byte copy, re-encoded, resized, cropped;
    plus truncated, corrupt, tiny and bomb files."""
    from PIL import Image

    src = rad_images(1)[0]
    d = tmp_path / "imgs"
    d.mkdir()
    out = {"orig": d / "orig.jpg"}
    out["orig"].write_bytes(src.read_bytes())
    im = Image.open(src).convert("RGB")
    im.save(d / "reencoded.png")
    out["reencoded"] = d / "reencoded.png"
    im.resize((im.width // 2, im.height // 2)).save(d / "resized.jpg", quality=90)
    out["resized"] = d / "resized.jpg"
    w, h = im.size
    im.crop((w // 25, h // 25, w - w // 25, h - h // 25)).save(d / "cropped.jpg", quality=90)
    out["cropped"] = d / "cropped.jpg"
    other = rad_images(2)[1]
    out["other"] = d / "other.jpg"
    out["other"].write_bytes(other.read_bytes())
    data = src.read_bytes()
    out["truncated"] = d / "truncated.jpg"
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["corrupt"] = d / "corrupt.png"
    out["corrupt"].write_bytes(b"\x89PNG\r\n\x1a\nthis is not an image")
    Image.new("RGB", (40, 200), "gray").save(d / "tiny.png")
    out["tiny"] = d / "tiny.png"
    out["bomb"] = bomb_png(d / "bomb.png")
    return out


def op(name: str, **params):
    """A registered curation op, its parameters validated and ``setup()`` run."""
    from lingshu.data.curate.ops import OPS

    cls = OPS.get(name)
    o = cls(cls.Params(**params))
    o.setup()
    return o


def qa_row(rid: str, q: str, a: str, image: Path | None = None, **kw) -> dict:
    row = {"id": rid, "question": q, "answer": a, **kw}
    if image is not None:
        row["image"] = str(image)
    return row


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_recipe(path: Path, inputs: list[dict], ops: list[dict], out: Path | str = "out",
                 **extra) -> Path:
    data = {"name": "test", "inputs": inputs, "ops": ops,
            "output": {"dir": str(out), "shard_size": extra.pop("shard_size", 5),
                       "plots": extra.pop("plots", False)}, **extra}
    path.write_text(yaml.safe_dump(data))
    return path


def read_out(out: Path) -> tuple[list[dict], list[dict]]:
    rows = [json.loads(line) for p in sorted((out / "data").glob("shard-*.jsonl"))
            for line in p.read_text().splitlines()]
    excl = [json.loads(line) for line in (out / "exclusions.jsonl").read_text().splitlines()]
    return rows, excl
