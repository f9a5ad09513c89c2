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
        _publish(tmp, final, dict(state, step=step), keep)
    return final


def _publish(tmp: Path, final: Path, state: dict, keep: int) -> None:
    """Write ``trainer_state.json`` (the mark of a complete checkpoint), sync every file,
    rename ``tmp`` to ``final`` and prune older checkpoints."""
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")
    honour_umask(tmp)
    for f in tmp.rglob("*"):  # data on disk before the rename makes it visible
        if f.is_file():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    prune_checkpoints(final.parent, keep)


def save_sharded_checkpoint(acc: Any, stage_dir: Path, step: int, scheduler: Any, state: dict, *,
                            keep: int) -> Path:
    """A ZeRO / FSDP checkpoint: every rank writes its shard (``acc.save_state``) into one
    hidden folder, then rank 0 adds the schedule and data position and renames it into place.

    The same kill -9 guarantee as :func:`save_checkpoint`: ``step-*`` appears only complete
    (every rank's shard written, then ``trainer_state.json``, then the rename); a folder a
    kill left is hidden (``.step-NNNNNNNN.tmp``) and removed at the next start. Called on
    every rank.
    """
    import torch

    root = Path(stage_dir) / CKPT_DIR
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.tmp"  # one name every rank knows, no broadcast needed
    if acc.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    acc.wait_for_everyone()
    acc.save_state(str(tmp / "accelerate"))
    acc.wait_for_everyone()  # every shard is on disk before the folder can look complete
    if acc.is_main_process:
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        _publish(tmp, final, dict(state, step=step), keep)
    acc.wait_for_everyone()
    return final


def prune_checkpoints(root: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete checkpoints; returns what was deleted.

    Only folders older than the newest complete one go, so a crash during pruning never
    leaves a run without a checkpoint to resume from (an incomplete ``step-*`` cannot exist:
    both writers rename complete folders into place).
    """
    done = [p for p in sorted(Path(root).glob("step-*")) if (p / "trainer_state.json").is_file()]
    gone = done[:-max(keep, 1)]
    for old in gone:
        # rename first: a kill mid-delete leaves a hidden folder the next start removes,
        # never a half-deleted step-* that looks resumable
        doomed = old.with_name(f".{old.name}.deleting.tmp")
        os.replace(old, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    return gone


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
