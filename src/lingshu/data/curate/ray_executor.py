"""``--executor ray``: the same shard jobs on Ray Data.

Each segment's shard jobs become a Ray Dataset (one row per shard). A segment of CPU ops
runs as Ray tasks (``Dataset.map``); a segment holding a model op (``uses_model``:
modality labelling, de-identification rewrite, synthesis) runs in a pool of actors
(``map_batches`` with a callable class), so each worker loads the model once and may ask
for a GPU (``LINGSHU_RAY_GPUS_PER_ACTOR``). Workers run the same ``process_shard`` as
the local executor and write the same atomic shard files; global decisions run on the
driver. Output is therefore identical to a local run (tested).

Existing cluster: ``--ray-address auto`` on a cluster node, or ``ray://HEAD:10001``; the
cluster's Python must have ``lingshu`` installed (same version) and see the input paths
and the output dir (shared filesystem).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from lingshu.data.curate.ops.base import Op


class _ShardActor:
    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from lingshu.data.curate.runner import process_shard

        jobs = _rows(batch)
        return {"shard": [process_shard(j) for j in jobs]}


def _rows(batch: dict[str, Any]) -> list[dict]:
    keys = list(batch)
    n = len(batch[keys[0]])
    return [{k: _plain(batch[k][i]) for k in keys} for i in range(n)]


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return v.item()
    return v


def _task(row: dict[str, Any]) -> dict[str, Any]:
    from lingshu.data.curate.runner import process_shard

    return {"shard": process_shard({k: _plain(v) for k, v in row.items()})}


def ray_executor(workers: int, address: str | None, ops: list[Op]) -> Callable:
    import ray

    from lingshu.data.curate.runner import segments

    model_segments = {k for k, (m, g) in enumerate(segments(ops))
                      if any(op.uses_model for op in m) or (g is not None and g.uses_model)}
    gpus = float(os.environ.get("LINGSHU_RAY_GPUS_PER_ACTOR", "0"))

    def run(fn: Callable[[dict], Any], jobs: list[dict]) -> None:
        if not ray.is_initialized():
            env = {"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}} \
                if os.environ.get("PYTHONPATH") and address is None else None
            ray.init(address=address, num_cpus=workers if address is None else None,
                     include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
                     runtime_env=env)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        # None values (no decisions yet) do not survive Arrow; send "" instead.
        rows = [{**j, "decisions": j["decisions"] or ""} for j in jobs]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        if jobs[0]["segment"] in model_segments:
            ds = ds.map_batches(_ShardActor, batch_size=1, concurrency=max(1, workers),
                                num_gpus=gpus or None)
        else:
            ds = ds.map(_task)
        ds.materialize()

    return run
