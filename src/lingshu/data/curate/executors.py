"""Executors: who runs the shard jobs of a segment. One registered class per engine.

The runner hands an executor a list of shard jobs (``shards.run_job`` arguments: a
segment of ops, or the final write of a shard) and waits; what the jobs do never depends on the executor, so every executor gives the
same output (tested: Ray equals local). Add an engine by registering a class with its
own ``Options`` model (``lingshu data executors`` lists them; ``--executor NAME`` picks).

``ray``: each segment's jobs become a Ray Dataset (one row per shard). A segment of CPU ops
runs as Ray tasks (``Dataset.map``); a segment holding a model op (``uses_model``:
modality labelling, de-identification rewrite, synthesis) runs in a pool of actors
(``map_batches`` with a callable class), so each worker loads the model once and may ask
for a GPU (``gpus_per_actor``). Existing cluster: ``address: auto`` on a cluster node, or
``ray://HEAD:10001``; the cluster's Python must have ``lingshu`` installed (same version)
and see the input paths and the output dir (shared filesystem).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field

from lingshu.core.config import StrictModel, validate
from lingshu.core.errors import UserError
from lingshu.core.registry import Registry
from lingshu.data.curate.ops.base import Op
from lingshu.data.curate.shards import run_job, segments

Job = dict[str, Any]


class ExecutorOptions(StrictModel):
    workers: int = Field(1, ge=1, description="shard jobs run at once")


class Executor:
    """Runs shard jobs; ``ops`` are the recipe's ops (to see which segments use a model)."""

    name: ClassVar[str]
    Options: ClassVar[type[ExecutorOptions]] = ExecutorOptions

    def __init__(self, options: ExecutorOptions, ops: list[Op]) -> None:
        self.options = options
        self.ops = ops

    def run(self, jobs: list[Job]) -> None:
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional: release workers
        """Called once at the end of a run (also after an error)."""

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]


EXECUTORS: Registry[type[Executor]] = Registry("executor")


def register_executor(name: str) -> Callable[[type[Executor]], type[Executor]]:
    def deco(cls: type[Executor]) -> type[Executor]:
        cls.name = name
        EXECUTORS.add(name, cls)
        return cls

    return deco


def make_executor(name: str, ops: list[Op], **options: Any) -> Executor:
    """The executor ``name`` with its options validated (unknown options: one-line error)."""
    cls = EXECUTORS.get(name)
    opts = validate(cls.Options, {k: v for k, v in options.items() if v is not None},
                    where=f"executor {name}",
                    unknown_hint=f"options of {name}: {', '.join(cls.Options.model_fields)}")
    return cls(opts, ops)


@register_executor("local")
class LocalExecutor(Executor):
    """Shard jobs in this process (workers 1) or in a pool of worker processes."""

    _pool: Any = None

    def run(self, jobs: list[Job]) -> None:
        """With workers > 1 every job runs in the pool, a lone one too: a decision's
        components job holds every edge of the corpus, which must not land on the driver."""
        workers = self.options.workers
        if workers <= 1:
            for j in jobs:
                run_job(j)
            return
        if self._pool is None:  # one pool for the whole run: each worker sets ops up once
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=workers)
        list(self._pool.map(run_job, jobs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class RayOptions(ExecutorOptions):
    address: str | None = Field(None, description="existing cluster (auto, ray://HEAD:10001); "
                                "default: start a local one")
    gpus_per_actor: float = Field(0.0, ge=0, description="GPUs each model-op actor asks for")


class _ShardActor:
    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        keys = list(batch)
        n = len(batch[keys[0]])
        jobs = [{k: _plain(batch[k][i]) for k in keys} for i in range(n)]
        return {k: [r[k] for r in map(_guarded, jobs)] for k in ("shard", "error")}


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return v.item()
    return v


def _guarded(job: Job) -> dict[str, str]:
    try:
        return {"shard": run_job(job), "error": ""}
    except UserError as e:
        return {"shard": "", "error": str(e)}


def _task(row: dict[str, Any]) -> dict[str, Any]:
    return _guarded({k: _plain(v) for k, v in row.items()})


@register_executor("ray")
class RayExecutor(Executor):
    """Shard jobs on Ray Data: tasks for CPU segments, actors for model segments."""

    Options = RayOptions

    def run(self, jobs: list[Job]) -> None:
        import ray

        opts: RayOptions = self.options  # type: ignore[assignment]
        model_segments = {k for k, (m, g) in enumerate(segments(self.ops))
                          if any(op.uses_model for op in m) or (g is not None and g.uses_model)}
        if not ray.is_initialized():
            local = opts.address is None
            env = {"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}} \
                if os.environ.get("PYTHONPATH") and local else None
            ray.init(address=opts.address, num_cpus=opts.workers if local else None,
                     include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
                     runtime_env=env)
        ray.data.DataContext.get_current().enable_progress_bars = False
        # None values (no decisions yet) do not survive Arrow; send "" instead.
        rows = [{**j, "decisions": j.get("decisions") or ""} for j in jobs]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        if "kind" not in jobs[0] and jobs[0]["segment"] in model_segments:
            ds = ds.map_batches(_ShardActor, batch_size=1, concurrency=opts.workers,
                                num_gpus=opts.gpus_per_actor or None)
        else:
            ds = ds.map(_task)
        # A job's UserError comes back as a row, not an exception: raised in a task, Ray Data
        # logs its traceback and wraps it so that the message cannot be recovered.
        errors = [r["error"] for r in ds.materialize().take_all() if r["error"]]
        if errors:
            raise UserError(errors[0])


def describe_executors() -> list[dict[str, Any]]:
    """Every executor with its summary and ``(option, default, help)`` rows."""
    from lingshu.core.config import field_rows

    return [{"name": n, "summary": EXECUTORS.get(n).summary(),
             "params": field_rows(EXECUTORS.get(n).Options)} for n in EXECUTORS.names()]
