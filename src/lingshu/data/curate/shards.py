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
import secrets
from pathlib import Path
from typing import Any

from lingshu.core.hashing import FileDigests, path_fingerprint, sha256_text, stable_json
from lingshu.data.curate.ops.base import GlobalOp, MapOp, Op
from lingshu.data.curate.partition import (
    band_edges,
    components,
    gather,
    pack_shard,
    resolve,
    sig_file,
    write_npz,
)
from lingshu.data.curate.read_pieces import read_piece
from lingshu.data.curate.read_step import apply_ids, number_ids
from lingshu.data.curate.recipe import Recipe
from lingshu.data.curate.record import Record
from lingshu.data.curate.shard_writer import decision_exclusion, write_shard
from lingshu.data.curate.stage_files import (
    read_stage,
    shard_index,
    shard_name,
    stage_file,
    write_json,
    write_stage,
)

log = logging.getLogger(__name__)


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


def image_digest_file(read_dir: Path, i: int) -> Path:
    return read_dir / "images" / f"{shard_name(i)}.json"


def image_digest(job: dict[str, Any]) -> str:
    """Job: the content of every image read shard ``src``'s records reference, as one
    digest, written with the run's token (``run``) to ``out``. Runs on every run (an
    image edited after the read must be seen), in the workers: the driver only combines
    one digest per shard. A fresh memo per job: a worker that outlives a run (Ray) must
    not answer from an earlier run's hashes."""
    digests = FileDigests()
    paths = sorted({p for r in read_stage(Path(job["src"]))[0]
                    for p in Record.from_dict(r).images()})
    digest = sha256_text(stable_json([[p, digests.file(p)] for p in paths]))
    write_json(Path(job["out"]), {"run": job["run"], "digest": digest})
    return Path(job["out"]).name


def image_fingerprint(read_dir: Path, run: Any) -> str:
    """The content of every image the read records reference (a JSONL row's ``image``
    path is outside the input file): part of every later step's key, since ops decode
    the images and the writer copies them (issue 22: an edited image is seen).

    One ``image_digest`` job per read shard that references an image (the read step
    lists them in ``done.json``), run by the executor (``run``); the driver combines the
    per-shard digests, so it reads no record and hashes no image."""
    shards = json.loads((read_dir / "done.json").read_text())["with_images"]
    token = secrets.token_hex(8)
    jobs = [{"kind": "images", "src": str(stage_file(read_dir, i)),
             "out": str(image_digest_file(read_dir, i)), "run": token} for i in shards]
    if jobs:
        run(jobs)
    parts = []
    for i in shards:
        got = json.loads(image_digest_file(read_dir, i).read_text())
        if got["run"] != token:  # an executor that skipped the job: never use a stale hash
            raise RuntimeError(f"{image_digest_file(read_dir, i)}: not written by this run")
        parts.append([i, got["digest"]])
    return sha256_text(stable_json(parts))


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


_OPS_CACHE: dict[str, list[Op]] = {}


def ops_for(recipe_json: str, base_dir: str) -> list[Op]:
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


def source_ranks(recipe: Recipe) -> dict[str, int]:
    """Input name -> rank (lower wins a duplicate): by ``priority``, then input order."""
    priority = {s.name: (s.priority, i) for i, s in enumerate(recipe.inputs)}
    return {name: rank for rank, (name, _) in
            enumerate(sorted(priority.items(), key=lambda kv: kv[1]))}


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
    ops = ops_for(job["recipe"], job["base_dir"])
    map_ops, glob = segments(ops)[job["segment"]]
    rows, _ = read_stage(Path(job["src"]))
    records = [Record.from_dict(r) for r in rows]
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
    if glob is not None:  # binary signatures first: the shard file marks the job done
        i = shard_index(out)
        write_npz(sig_file(out.parent, i), pack_shard(glob, records, glob.signatures(records)))
    write_stage(out, [r.to_dict() for r in records], exclusions)
    return out.name


JOBS = {"read_piece": read_piece, "ids": number_ids, "ids_apply": apply_ids, "images": image_digest,
        "write": write_shard, "bands": band_edges, "components": components,
        "resolve": resolve, "gather": gather}
"""Job kinds besides a segment's shard pass: the read step's pieces and id numbering
(``read_pieces.py``, ``read_step.py``), the read shards' image digests, the final write, the phases of a
global decision (``partition.py``)."""


def run_job(job: dict[str, Any]) -> str:
    """One job of any kind (``JOBS``, else a segment's ``process_shard``); executors run
    this, so every kind runs in the workers."""
    return JOBS.get(job.get("kind", ""), process_shard)(job)
