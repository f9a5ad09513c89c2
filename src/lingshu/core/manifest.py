"""What a run was made with: package versions, the source commit, the hardware, the command
and the files it read, so that a run can be reproduced or two runs told apart.

One manifest for every area (evaluation, training, curation, pipeline): each area adds its
own fields next to :func:`run_manifest`'s common ones. Credentials never appear here: the
command line is recorded with secret-looking option values masked (:func:`masked_argv`).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lingshu.core.hashing import sha256_file

#: Packages whose versions change results; absent ones are recorded as ``None``.
PACKAGES = (
    "lingshu", "torch", "transformers", "tokenizers", "accelerate", "datasets", "peft", "trl",
    "deepspeed", "vllm", "numpy", "pillow", "httpx", "ray",
)

#: Options whose values are credentials: masked wherever a command line is recorded.
SECRET_OPTIONS = ("--api-key", "--token", "--password", "--judge-api-key")


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in packages:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def git_commit() -> str | None:
    """The commit of the lingshu source tree (``+dirty`` when it has local edits), when it
    runs from a git checkout; None for an installed package."""
    src = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
        if res.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() + ("+dirty" if dirty else "")


def hardware() -> dict[str, Any]:
    """Platform, CPU count, RAM, the CPU's torch capability and GPUs (informational only)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
    }
    try:
        info["ram_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import torch

        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # probing is informational; a broken driver must not stop a run
        info.setdefault("cuda", False)
    return info


def masked_argv(argv: Iterable[str] | None = None) -> list[str]:
    """``sys.argv`` with the value of every credential option replaced by ``***``, and of
    every ``KEY=VALUE`` argument whose KEY names a credential (``--backend-opt
    api_key=...``, an override ``synthesis.api_key=...``; see :mod:`lingshu.core.secrets`)."""
    from lingshu.core.secrets import is_secret_name, masked_assignment

    args = list(sys.argv if argv is None else argv)
    out: list[str] = []
    hide_next = False
    for a in args:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        opt, eq, _ = a.partition("=")
        if opt in SECRET_OPTIONS or (opt.startswith("--") and is_secret_name(opt)):
            if eq:
                out.append(f"{opt}=***")
            else:
                out.append(a)
                hide_next = True
            continue
        out.append(masked_assignment(a))
    return out


def file_record(path: Path, **extra: Any) -> dict[str, Any]:
    """``{"path", "sha256", "bytes", **extra}`` for one input file."""
    path = Path(path)
    return {"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size, **extra}


def run_manifest(**fields: Any) -> dict[str, Any]:
    """The fields every run records, plus the area's own ``fields`` (which win on a clash)."""
    return {
        "command": masked_argv(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "hardware": hardware(),
        **fields,
    }
