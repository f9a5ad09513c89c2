"""The last step of a shard, run by the executor like every other shard job: the final
decision applied, images copied, the training JSONL shard written, and the shard's
exclusions and summary counts written beside it.

Nothing here holds more than one shard: the driver only merges the small per-shard count
tables and streams the per-shard exclusion files into ``exclusions.jsonl``, so its memory
does not grow with the number of records, and image copies happen in the workers.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from lingshu.core.hashing import sha256_file
from lingshu.data.curate import out_store
from lingshu.data.curate.paths import is_url
from lingshu.data.curate.record import Record, exclusion
from lingshu.data.curate.stage_files import read_stage, write_json

COUNTS = ("kept", "excluded", "synthesised", "excluded_by_op", "reasons", "modality", "task",
          "token_lengths", "image_sides")
"""The count tables of a shard's summary (each a mapping of key -> count). ``kept``,
``excluded`` and ``synthesised`` are per source; ``token_lengths`` and ``image_sides``
count each value, so they stay as small as the number of distinct values."""


def copy_image(src: str, images_dir: Path | str) -> str:
    """Content-addressed copy (same bytes -> same file), written atomically: renamed into
    a local folder, uploaded whole to a URL (``out_store``)."""
    p = Path(src)
    name = sha256_file(p)[:32] + p.suffix.lower()
    if is_url(images_dir):
        dst_url = out_store.join(str(images_dir), name)
        if not out_store.exists(dst_url):
            out_store.put_file(p, dst_url)
        return f"images/{name}"
    images_dir = Path(images_dir)
    dst = images_dir / name
    if not dst.exists():
        images_dir.mkdir(parents=True, exist_ok=True)
        tmp = images_dir / f".{name}.{p.stat().st_ino}.tmp"  # unique per worker and file
        shutil.copyfile(p, tmp)
        tmp.replace(dst)
    return f"images/{name}"


def training_row(rec: Record) -> dict[str, Any]:
    return {"id": rec.id, "messages": rec.messages, "source": rec.source,
            "dataset": rec.dataset, "task": rec.task, "modality": rec.modality,
            "meta": rec.meta, "stats": rec.stats}


def decision_exclusion(rec: Record, label: str, d: dict[str, Any]) -> dict[str, Any]:
    """The exclusion row of a record a global op's decision drops."""
    return exclusion(rec, label, d["reason"], d["statistic"])


def reason_kind(e: dict[str, Any]) -> str:
    """The reason without the record it names ("exact text duplicate of t:17" counts as
    "exact text duplicate"): the summary's reasons table then has one row per kind of
    reason, not one per record (the record is in ``exclusions.jsonl``)."""
    matched = (e.get("statistic") or {}).get("matched")
    tail = f" of {matched}"
    return e["reason"][:-len(tail)] if matched and e["reason"].endswith(tail) else e["reason"]


def shard_counts(rows: list[dict], exclusions: list[dict]) -> dict[str, dict]:
    """The count tables (``COUNTS``) of one shard's kept rows and exclusions."""
    c: dict[str, Counter] = {k: Counter() for k in COUNTS}
    for r in rows:
        c["kept"][r["source"]] += 1
        c["synthesised"][r["source"]] += bool(r["meta"].get("synthesis"))
        c["modality"][r["modality"] or "unlabelled"] += 1
        c["task"][r["task"]] += 1
        t = r["stats"].get("token_count")
        if t:
            c["token_lengths"][str(t["tokens"])] += 1
        for w, h in r["stats"].get("image_decodable", {}).get("sizes", []):
            c["image_sides"][str(min(w, h))] += 1
    for e in exclusions:
        c["excluded"][e["source"]] += 1
        c["synthesised"][e["source"]] += bool(e.get("synthesised"))
        c["excluded_by_op"][e["op"]] += 1
        c["reasons"][f"{e['op']}: {reason_kind(e)}"] += 1
    return {k: dict(v) for k, v in c.items()}


def node_id() -> str:
    """The Ray node this job runs on ("local" outside Ray): kept in the work files, so a
    cluster run shows where its shards were written."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return ray.get_runtime_context().get_node_id()
    return "local"


def write_shard(job: dict[str, Any]) -> str:
    """Write shard ``job``: its training JSONL (``data``: a local path or URL, images into
    ``images_dir``), and (``out``, in the work folder) its exclusions from every earlier
    step (``earlier``: shard files, newline-separated) plus its counts. ``out`` is
    written last, so with the JSONL it marks the shard done."""
    out = Path(job["out"])
    if out.exists() and out_store.exists(job["data"]):
        return out.name
    records, _ = read_stage(Path(job["src"]))
    decisions = json.loads(Path(job["decisions"]).read_text()) if job["decisions"] else None
    exclusions: list[dict] = []
    for f in filter(None, job["earlier"].split("\n")):
        exclusions.extend(read_stage(Path(f))[1])
    rows = []
    for r in records:
        rec = Record.from_dict(r)
        if decisions and rec.id in decisions["drop"]:
            exclusions.append(decision_exclusion(rec, decisions["op"], decisions["drop"][rec.id]))
            continue
        if job["images"] == "copy":
            rec.replace_images({p: copy_image(p, job["images_dir"]) for p in rec.images()})
        rows.append(training_row(rec))
    out_store.write_text(job["data"], "".join(
        json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))
    write_json(out, {"exclusions": exclusions, "counts": shard_counts(rows, exclusions),
                            "node": node_id()})
    return out.name
