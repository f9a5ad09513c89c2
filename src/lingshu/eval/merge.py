"""Merge the run directories of ``--shard i/n`` runs into one run.

The shards must share one configuration (apart from the shard), cover every shard index
exactly once, and each be complete. The merged samples are ordered by their index in the
full benchmark, so metrics (bootstrap intervals included) equal a single run's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json, atomic_write_text
from lingshu.eval import rundir
from lingshu.eval.config import EvalConfig
from lingshu.eval.metrics.aggregate import latest_records, summarize
from lingshu.eval.report import write_summary


def merge_runs(shard_dirs: list[Path], out_dir: Path) -> dict:
    if not shard_dirs:
        raise UserError("merge: give the run directories of the shards")
    cfgs: list[EvalConfig] = [rundir.load_config(d) for d in shard_dirs]
    base = cfgs[0]
    for d, c in zip(shard_dirs, cfgs, strict=True):
        if c.shard is None:
            raise UserError(f"{d}: not a shard run (no --shard in its config)")
        if c.identity_hash(include_shard=False) != base.identity_hash(include_shard=False):
            raise UserError(f"{d}: its configuration differs from {shard_dirs[0]}; only shards of one run merge")
    count = base.shard.count if base.shard else 0
    seen: dict[int, Path] = {}
    for d, c in zip(shard_dirs, cfgs, strict=True):
        assert c.shard is not None
        if c.shard.count != count:
            raise UserError(f"{d}: shard {c.shard} has a different shard count than {count}")
        if c.shard.index in seen:
            raise UserError(f"{d}: shard {c.shard} given twice (also {seen[c.shard.index]})")
        seen[c.shard.index] = d
    missing = sorted(set(range(count)) - set(seen))
    if missing:
        raise UserError(f"merge: shards {', '.join(f'{i}/{count}' for i in missing)} are missing")
    for d in shard_dirs:
        if not (Path(d) / rundir.METRICS).is_file():
            raise UserError(f"{d}: shard run did not finish (no {rundir.METRICS}); rerun it to resume, then merge")

    records = []
    for d in shard_dirs:
        records.extend(latest_records(rundir.load_records(d)))
    by_bench: dict[str, list[dict]] = defaultdict(list)
    seen_ids: set[tuple[str, str]] = set()
    for r in records:
        key = (r["benchmark"], r["sample_id"])
        if key in seen_ids:
            raise UserError(f"merge: sample {key[1]} of {key[0]} appears in two shards")
        seen_ids.add(key)
        by_bench[r["benchmark"]].append(r)

    out_dir = Path(out_dir)
    merged_cfg = base.model_copy(update={"shard": None})
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / rundir.CONFIG, merged_cfg.model_dump(mode="json"))
    for bench, recs in by_bench.items():
        recs.sort(key=lambda r: r["index"])
        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in recs)
        atomic_write_text(rundir.samples_path(out_dir, bench), text)
    metrics = summarize(records, **base.summarize_options())
    atomic_write_json(out_dir / rundir.METRICS, metrics)
    manifests = []
    for d in shard_dirs:
        p = Path(d) / rundir.MANIFEST
        manifests.append(json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None)
    atomic_write_json(out_dir / rundir.MANIFEST, {"merged_from": [str(d) for d in shard_dirs], "shards": manifests})
    write_summary(out_dir, merged_cfg, metrics)
    return metrics
