"""What a run was made with: enough to reproduce it or to know why two runs differ."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from lingshu.core.hashing import sha256_file

_PACKAGES = (
    "lingshu",
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "datasets",
    "numpy",
    "pillow",
    "vllm",
    "httpx",
)
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".gif", ".webp"}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in _PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def git_commit() -> str | None:
    """The commit of the lingshu source tree, when it runs from a git checkout."""
    src = Path(__file__).resolve().parent
    try:
        res = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return res.stdout.strip() + ("+dirty" if dirty else "")


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }
    try:
        import torch

        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:  # pragma: no cover - torch is a dependency
        info["cuda"] = False
    return info


def data_files(root: Path) -> dict[str, Any]:
    """sha256 of every annotation file under a benchmark folder; images are counted and
    their bytes summed instead (hashing 100K images would dominate a small run)."""
    root = Path(root)
    files: dict[str, str] = {}
    n_images = 0
    image_bytes = 0
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root)
        if rel.parts and rel.parts[0].startswith("."):
            continue  # our own caches (e.g. extracted images)
        if f.suffix.lower() in _IMAGE_SUFFIXES:
            n_images += 1
            image_bytes += f.stat().st_size
        else:
            files[str(rel)] = sha256_file(f)
    return {"root": str(root.resolve()), "sha256": files, "images": n_images, "image_bytes": image_bytes}
