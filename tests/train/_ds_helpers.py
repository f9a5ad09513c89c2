"""Launching real 2-process DeepSpeed / FSDP runs on CPU for the distributed tests.

Every launch gets a free port and its own process group, and is killed as a group when it
outlives its timeout: a ZeRO-3 hang (a collective one rank never joins) then fails the test
instead of blocking CI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lingshu.train.config import RECIPES_DIR

from _train_helpers import make_images, qwen_row, tiny_recipe, write_jsonl

ACC_DIR = RECIPES_DIR / "accelerate"
ACCELERATE = shutil.which("accelerate") or str(Path(sys.executable).with_name("accelerate"))
#: 16 rows, every third text-only: with one sample per micro-batch, some micro-step has an
#: image on one rank and none on the other (tests assert it from the data order)
N_ROWS = 16


def has_image(i: int) -> bool:
    return i % 3 != 1


def mixed_data(tmp: Path) -> Path:
    make_images(tmp / "images")
    rows = [qwen_row(i, "images/a.png" if i % 3 == 0 else ("images/b.png" if i % 3 == 2 else None),
                     f"Question {i}?", f"Answer {i}.") for i in range(N_ROWS)]
    return write_jsonl(tmp / "train.jsonl", rows)


def recipe(tmp: Path, model_dir: Path, data: Path, name: str, **stage) -> Path:
    """The tests' stage: everything trains (lr 1e-3), grad_accum 4, 3 optimizer steps."""
    common = dict(max_steps=3, checkpoint_every=100, grad_accum=4, per_device_batch=1,
                  parts={"vision": 1e-3, "merger": 1e-3, "llm": 1e-3})
    common.update(stage)
    d = tmp / name
    d.mkdir(parents=True, exist_ok=True)
    return tiny_recipe(d, model_dir, data, **common)


def env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu", TOKENIZERS_PARALLELISM="false")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_cmd(config: str, recipe_path: Path, *, ds_json: str | None = None,
               script: Path | None = None, verbose: bool = False) -> list[str]:
    cmd = [ACCELERATE, "launch", "--config_file", str(ACC_DIR / config),
           "--main_process_port", str(free_port())]
    if ds_json:  # accelerate reads a relative deepspeed_config_file against the CWD
        cmd += ["--deepspeed_config_file", str(ACC_DIR / ds_json)]
    cmd += [str(script)] if script else ["-m", "lingshu.cli.main"]
    return cmd + (["-v"] if verbose else []) + ["train", "--recipe", str(recipe_path)]


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the launcher and every process under it: torchrun starts each worker in a
    session of its own, so killing the launcher's process group would leave them running."""
    import psutil

    try:
        victims = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        victims = [proc.pid]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def run_group(cmd: list[str], timeout: float, log: Path) -> int:
    """Run ``cmd`` in its own session; on timeout SIGKILL the whole group and return -9."""
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, env=env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            return -9


def kill_after_checkpoint(cmd: list[str], ckpt_root: Path, step: int, timeout: float, log: Path) -> bool:
    """Start ``cmd``; SIGKILL every process of it once ``step-<step>`` is the only
    checkpoint (complete, and the older ones pruned: the tests keep one)."""
    def ready() -> bool:
        names = [p.name for p in ckpt_root.glob("step-*")] if ckpt_root.is_dir() else []
        return names == [f"step-{step:08d}"] and (ckpt_root / names[0] / "trainer_state.json").is_file()

    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, env=env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.time()
        while time.time() - t0 < timeout and proc.poll() is None and not ready():
            time.sleep(0.05)
        killed = proc.poll() is None
        if killed:
            kill_tree(proc)
        proc.wait()
    return killed


def weights(run: Path):
    from safetensors.torch import load_file

    return load_file(str(run / "sft" / "final" / "model.safetensors"))


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:5]
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def losses(run: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]


def tail(log: Path, n: int = 3000) -> str:
    return log.read_text(errors="replace")[-n:] if log.is_file() else ""
