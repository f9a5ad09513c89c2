"""Shard processing: the unit of work every executor schedules, and the shard files.

A run is cut into segments at each global op (dedup): a segment's map ops and the global
op's per-record signature run per shard (``process_shard``); the decision runs once over
the signatures. This module holds only that per-shard work and the file layout it reads
and writes, so the runner (which orders the work), the executors (which run it) and the
writer (which reads the last stage) all depend on it and not on each other.

Every shard file is written atomically (``core.io``): a file that exists is complete, so a
rerun, or a run resumed after ``kill -9``, skips it and redoes the others.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lingshu.core.hashing import FileDigests, path_fingerprint, sha256_text, stable_json
from lingshu.core.io import atomic_write_json
from lingshu.data.curate.ops.base import GlobalOp, MapOp, Op
from lingshu.data.curate.readers import read_input
from lingshu.data.curate.recipe import Recipe
from lingshu.data.curate.record import Record
from lingshu.data.curate.shard_writer import decision_exclusion, write_shard

log = logging.getLogger(__name__)


def shard_name(i: int) -> str:
    return f"shard-{i:05d}"


def segments(ops: list[Op]) -> list[tuple[list[MapOp], GlobalOp | None]]:
    """The ops cut after each global op: ``[(map ops, global op or None), ...]``."""
    segs: list[tuple[list[MapOp], GlobalOp | None]] = []
    cur: list[MapOp] = []
    for op in ops:
        if isinstance(op, GlobalOp):
            segs.append((cur, op))
            cur = []
        else:
            cur.append(op)  # type: ignore[arg-type]
    if cur or not segs:
        segs.append((cur, None))
    return segs


def input_fingerprints(recipe: Recipe, digests: FileDigests | None = None) -> list[str]:
    """The content of every input file (or folder) the read step reads: part of its key,
    so a rerun after editing an input reads it again (core.hashing.path_fingerprint)."""
    out = []
    for spec in recipe.inputs:
        path = Path(spec.path).expanduser()
        out.append(path_fingerprint(path if path.is_absolute() else recipe.base_dir / path,
                                    digests))
    return out


def image_fingerprint(read_dir: Path, n: int, digests: FileDigests) -> str:
    """The content of every image the read records reference (a JSONL row's ``image``
    path is outside the input file): part of every later step's key, since ops decode
    the images and the writer copies them (issue 22: an edited image is seen)."""
    paths: set[str] = set()
    for i in range(n):
        for r in json.loads((read_dir / f"{shard_name(i)}.json").read_text())["records"]:
            paths.update(Record.from_dict(r).images())
    return sha256_text(stable_json([[p, digests.file(p)] for p in sorted(paths)]))


INPUT_PARAMS = ("data_dir", "tokenizer", "biomedclip_weights")
"""Op parameters naming files or folders the op reads (a decontamination ``data_dir``, a
tokenizer, classifier weights); not caches or outputs, which change as the run writes."""


def param_fingerprints(specs: list[dict[str, Any]], base_dir: Path,
                       digests: FileDigests | None = None) -> list[str]:
    """Fingerprints of what the ops' :data:`INPUT_PARAMS` name: part of a segment's key."""
    out = []
    for spec in specs:
        for key in INPUT_PARAMS:
            value = (spec.get("params") or {}).get(key)
            if isinstance(value, str) and value:
                path = Path(value).expanduser()
                out.append(path_fingerprint(path if path.is_absolute() else base_dir / path,
                                            digests))
    return out


def read_shards(recipe: Recipe, work: Path,
                digests: FileDigests | None = None) -> tuple[Path, int]:
    """Stream every input into shards of ``shard_size`` records (plus the rows the readers
    excluded). Re-reads on resume but rewrites only missing shard files."""
    h = sha256_text(stable_json([s.model_dump(mode="json") for s in recipe.inputs]) +
                    str(recipe.output.shard_size) + stable_json(input_fingerprints(recipe, digests)))[:12]
    read_dir = work / f"read-{h}"
    done = read_dir / "done.json"
    if done.exists():
        return read_dir, json.loads(done.read_text())["shards"]
    size = recipe.output.shard_size
    buf: list[dict] = []
    excl: list[dict] = []
    n = 0

    def flush() -> None:
        nonlocal buf, excl, n
        path = read_dir / f"{shard_name(n)}.json"
        if not path.exists():
            atomic_write_json(path, {"records": buf, "exclusions": excl})
        n += 1
        buf, excl = [], []

    for spec in recipe.inputs:
        for item in read_input(spec, work, recipe.base_dir):
            if isinstance(item, Record):
                buf.append(item.to_dict())
                if len(buf) >= size:
                    flush()
            else:
                log.warning("%s: excluded at read: %s", item["id"], item["reason"])
                excl.append(item)
    if buf or excl or n == 0:
        flush()
    atomic_write_json(done, {"shards": n})
    return read_dir, n


_OPS_CACHE: dict[str, list[Op]] = {}


def _ops_for(recipe_json: str, base_dir: str) -> list[Op]:
    """Ops built once per worker process (setup() loads models / indexes lazily)."""
    key = recipe_json + base_dir
    if key not in _OPS_CACHE:
        data = json.loads(recipe_json)
        data["base_dir"] = base_dir
        ops = Recipe(**data).build_ops()
        for op in ops:
            op.setup()
        _OPS_CACHE[key] = ops
    return _OPS_CACHE[key]


def recipe_json(recipe: Recipe) -> str:
    """The recipe as a worker rebuilds it (its folder travels separately)."""
    d = recipe.model_dump(mode="json")
    d.pop("base_dir")
    return stable_json(d)


def decision_file(marker: Path, i: int) -> Path:
    """Shard ``i``'s part of the decision whose completion marker is ``marker``."""
    return marker.parent / "decisions" / f"{shard_name(i)}.json"


def process_shard(job: dict[str, Any]) -> str:
    """One shard through one segment: the previous global decision applied, the map ops
    run, the next global op's signatures computed, all written to ``job["out"]``."""
    out = Path(job["out"])
    if out.exists():
        return out.name
    ops = _ops_for(job["recipe"], job["base_dir"])
    map_ops, glob = segments(ops)[job["segment"]]
    data = json.loads(Path(job["src"]).read_text())
    records = [Record.from_dict(r) for r in data["records"]]
    exclusions: list[dict] = []
    decisions = json.loads(Path(job["decisions"]).read_text()) if job["decisions"] else {}
    if decisions:
        kept = []
        for r in records:
            d = decisions["drop"].get(r.id)
            if d is None:
                kept.append(r)
            else:
                exclusions.append(decision_exclusion(r, decisions["op"], d))
        records = kept
    for op in map_ops:
        records, dropped = op.apply(records)
        exclusions.extend(dropped)
    sigs = glob.signatures(records) if glob else []
    atomic_write_json(out, {"records": [r.to_dict() for r in records],
                            "exclusions": exclusions, "sigs": sigs})
    return out.name


def run_job(job: dict[str, Any]) -> str:
    """One shard job of either kind: a segment (``process_shard``) or the final write
    (``shard_writer.write_shard``); executors run this."""
    return write_shard(job) if job.get("kind") == "write" else process_shard(job)
