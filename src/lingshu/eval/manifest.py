"""What a run was made with: enough to reproduce it or to know why two runs differ.

The common part (command line with credentials masked, package versions, git commit,
hardware) is ``lingshu.core.manifest``'s, shared with training and curation; evaluation adds
the model's fingerprint, the data files it read, timings and token counts. The versions
stay under the key ``packages``, as in every run written since the first release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lingshu.core.hashing import sha256_file
from lingshu.core.manifest import run_manifest

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".gif", ".webp"}


def run_manifest_for_eval(
    *,
    model: dict[str, Any],
    data: dict[str, Any],
    wall_s: float,
    stats: dict[str, Any],
    judge: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``manifest.json`` of an evaluation run; ``stats`` maps benchmark -> ``BenchmarkStats``."""
    common = run_manifest()
    return {
        "lingshu_run": 1,
        "command": common["command"],
        "packages": common["versions"],
        "git_commit": common["git_commit"],
        "hardware": common["hardware"],
        "model": model,
        "data": data,
        "timings": {
            "wall_s": wall_s,
            "benchmarks": {k: v.to_dict() for k, v in stats.items()},
        },
        "tokens": {
            "prompt": sum(s.prompt_tokens for s in stats.values()),
            "completion": sum(s.completion_tokens for s in stats.values()),
        },
        **({"judge": judge} if judge is not None else {}),
    }


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
