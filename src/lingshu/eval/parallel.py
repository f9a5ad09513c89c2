"""``lingshu eval run --data-parallel N``: N shards at once, one engine per device, merged.

Why Ray (and not ``accelerate launch``): Ray is already the engine of the curation pipeline,
so one cluster serves both; it schedules one task per GPU (``num_gpus=1`` pins each task to
its own device through ``CUDA_VISIBLE_DEVICES``), reaches several nodes by pointing
``RAY_ADDRESS`` at a running cluster, and runs the shards as functions in this process's
code, with no command line to rebuild and relaunch. ``accelerate launch`` would start N
copies of the whole command, each re-parsing options and racing to write the run directory.

Each task runs the ordinary runner on shard ``i/N`` (samples ``i, i+N, ...``) into
``RUN_DIR/shards/iofN``; all tasks share the response cache (SQLite in WAL mode, safe for
several processes on one machine; several nodes need ``--cache`` on a shared filesystem).
The shards are then merged (``lingshu.eval.merge``) into ``RUN_DIR``: samples ordered by
their index in the full benchmark, so records and metrics equal a single run's. Rerunning
the same command resumes every shard where it stopped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.eval.config import EvalConfig, Shard

SHARDS_DIR = "shards"


def shard_dirs(run_dir: Path, n: int) -> list[Path]:
    return [Path(run_dir) / SHARDS_DIR / f"{i}of{n}" for i in range(n)]


def run_data_parallel(
    cfg: EvalConfig, run_dir: Path, n: int, *, overwrite: bool = False, num_cpus: int | None = None
) -> dict[str, Any]:
    """Run ``cfg`` as ``n`` shards on Ray and merge them into ``run_dir``; the metrics."""
    if n < 1:
        raise UserError(f"--data-parallel {n}: give at least 1 worker")
    if cfg.shard is not None:
        raise UserError("--data-parallel and --shard exclude each other: pick one")
    import ray

    from lingshu.eval.merge import merge_runs

    dirs = shard_dirs(run_dir, n)
    configs = [cfg.model_copy(update={"shard": Shard(index=i, count=n)}) for i in range(n)]
    gpus = _gpus_per_worker(cfg)
    started = False
    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS") or None,
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=True,
            configure_logging=False,
        )
        started = True
    try:
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(_run_shard)
        refs = [task.remote(c, d, overwrite) for c, d in zip(configs, dirs, strict=True)]
        errors = []
        for i, ref in enumerate(refs):
            try:
                ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                cause = e.as_instanceof_cause()
                if isinstance(cause, UserError):
                    raise UserError(str(cause).splitlines()[0]) from None
                errors.append(f"shard {i}/{n}: {type(cause).__name__}: {str(cause).splitlines()[0]}")
        if errors:
            raise UserError("; ".join(errors) + "; rerun the same command to resume")
    finally:
        if started:
            ray.shutdown()
    return merge_runs(dirs, Path(run_dir))


def _run_shard(cfg: EvalConfig, run_dir: Path, overwrite: bool) -> None:
    from lingshu.eval.runner import run_eval

    run_eval(cfg, run_dir, progress=False, overwrite=overwrite)


def _gpus_per_worker(cfg: EvalConfig) -> float:
    """One GPU per worker for local-model backends when the cluster has GPUs, else none
    (CPU workers, API backends)."""
    if cfg.backend not in ("hf", "vllm"):
        return 0
    device = str(cfg.backend_options.get("device", "auto"))
    if device == "cpu":
        return 0
    try:
        import torch

        return 1 if torch.cuda.is_available() else 0
    except ImportError:
        return 0
