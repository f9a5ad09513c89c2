"""Checkpoints that survive ``kill -9``: trainable weights, optimizer, scheduler, data
position and every RNG, written to a temporary folder and renamed into place.

Only trainable parameters are stored: frozen ones equal the stage's starting model, which
the resume loads first (stage 1 of Lingshu-7B trains 0.68B of 8.3B parameters, so this is
12x smaller). The data position is the optimizer step: the sample order is a pure function
of (seed, epoch), so step N identifies exactly which samples come next.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingshu.core.io import honour_umask, temp_dir

CKPT_DIR = "checkpoints"


@dataclass
class Resumed:
    step: int
    path: Path
    state: dict


def _rng_state() -> dict:
    import numpy as np
    import torch

    st = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict) -> None:
    import numpy as np
    import torch

    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def save_checkpoint(stage_dir: Path, step: int, model: Any, optimizer: Any, scheduler: Any,
                    state: dict, *, keep: int, rank: int = 0, is_main: bool = True) -> Path:
    """Write ``checkpoints/step-NNNNNNNN`` atomically; keep the newest ``keep``."""
    import torch
    from safetensors.torch import save_file

    root = Path(stage_dir) / CKPT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    if is_main:
        tmp = temp_dir(root, f"step-{step:08d}")  # honours the umask (issue 22)
        trainable = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
        save_file(trainable, str(tmp / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(_rng_state(), tmp / f"rng-{rank}.pt")
        (tmp / "trainer_state.json").write_text(json.dumps(dict(state, step=step), indent=2) + "\n")
        honour_umask(tmp)
        for f in tmp.iterdir():  # data on disk before the rename makes it visible
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
        for old in sorted(root.glob("step-*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def latest_checkpoint(stage_dir: Path) -> Path | None:
    root = Path(stage_dir) / CKPT_DIR
    done = [p for p in sorted(root.glob("step-*")) if (p / "trainer_state.json").is_file()]
    return done[-1] if done else None


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any, *, rank: int = 0) -> Resumed:
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(path / "trainable.safetensors"))
    params = dict(model.named_parameters())
    missing = [n for n in weights if n not in params]
    if missing:
        raise RuntimeError(f"checkpoint {path} has weights the model lacks: {missing[:3]}")
    with torch.no_grad():
        for n, t in weights.items():
            params[n].copy_(t)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    rng = path / f"rng-{rank}.pt"
    if not rng.is_file():
        rng = path / "rng-0.pt"
    _set_rng_state(torch.load(rng, weights_only=False))
    state = json.loads((path / "trainer_state.json").read_text())
    return Resumed(step=int(state["step"]), path=path, state=state)
