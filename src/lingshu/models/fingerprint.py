"""What identifies a checkpoint's outputs, computed from its files without loading it.

The fingerprint is part of every response-cache key, so it must change whenever the
answers could change, and it must be cheap: a cached rerun computes it before deciding
that no model needs loading at all. It covers:

- ``model_type`` (from ``config.json``), for people reading run records;
- ``content_sha256``: one sha256 over, for each top-level file in sorted name order,
  * text files that steer outputs (``*.json`` configs, tokenizer, chat template
    ``*.jinja``, ``*.txt``, ``*.model``, ``*.tiktoken``): name and full content;
  * weight files (``*.safetensors``, ``*.bin``, ``*.pt``, ``*.pth``, ``*.gguf``): name,
    size, and the first and last MiB. Safetensors files add their header (tensor names,
    dtypes, shapes) and the first 4 KiB of every tensor: a training step rewrites every
    value of each tensor it trains, so even a run that trained only the vision tower
    (Lingshu stage 1) changes the hash, at a cost of a few MiB read per file;
- the resolved ``dtype`` and the ``min_pixels`` / ``max_pixels`` overrides (``None``
  means the checkpoint's own image-processor settings, already in the content hash).

Paths are not included: the same checkpoint copied elsewhere shares its cache entries.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError

FINGERPRINT_VERSION = 1
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
TEXT_SUFFIXES = (".json", ".jinja", ".txt", ".model", ".tiktoken")
SAMPLE_BYTES = 1 << 20
TENSOR_SAMPLE_BYTES = 4096


def content_sha256(model_dir: Path) -> str:
    """The content hash described in the module docstring."""
    h = hashlib.sha256()
    for path in sorted(Path(model_dir).iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.lower() == "readme.md":
            continue
        suffix = path.suffix.lower()
        if suffix in WEIGHT_SUFFIXES:
            h.update(f"weights:{path.name}\0".encode())
            h.update(_weight_sample(path))
        elif suffix in TEXT_SUFFIXES:
            h.update(f"text:{path.name}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def read_model_type(model_dir: Path) -> str:
    config = read_config(model_dir)
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise UserError(
            f"{Path(model_dir) / 'config.json'}: no 'model_type' field; expected a Hugging Face "
            "model config (re-save the model with save_pretrained)"
        )
    return model_type


def read_config(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path}: not found; expected a Hugging Face model directory (config.json + weights)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e}); re-save or re-download the model") from None
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object")
    return config


def model_fingerprint(
    model_dir: Path, *, dtype: str, min_pixels: int | None, max_pixels: int | None
) -> dict[str, Any]:
    return {
        "fingerprint_version": FINGERPRINT_VERSION,
        "model_type": read_model_type(model_dir),
        "content_sha256": content_sha256(model_dir),
        "dtype": dtype,
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
    }


def _weight_sample(path: Path) -> bytes:
    size = path.stat().st_size
    parts = [str(size).encode(), b"\0"]
    with path.open("rb") as fh:
        parts.append(fh.read(SAMPLE_BYTES))
        fh.seek(max(0, size - SAMPLE_BYTES))
        parts.append(fh.read(SAMPLE_BYTES))
        if path.suffix.lower() == ".safetensors":
            parts.extend(_safetensors_samples(fh, size))
    return b"".join(parts)


def _safetensors_samples(fh: Any, size: int) -> list[bytes]:
    """The header and the first bytes of each tensor; nothing if the header is unreadable
    (the whole-file samples above still count)."""
    fh.seek(0)
    raw_len = fh.read(8)
    if len(raw_len) < 8:
        return []
    (header_len,) = struct.unpack("<Q", raw_len)
    if 8 + header_len > size:
        return []
    header_bytes = fh.read(header_len)
    try:
        header = json.loads(header_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [header_bytes]
    parts = [header_bytes]
    data_start = 8 + header_len
    spans = sorted(
        tuple(v["data_offsets"])
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v
    )
    for begin, end in spans:
        fh.seek(data_start + begin)
        parts.append(fh.read(min(end - begin, TENSOR_SAMPLE_BYTES)))
    return parts
