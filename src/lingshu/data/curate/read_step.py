"""The read step: inputs read into shard files by jobs, then the ids made unique by jobs.

Why the ids are numbered after the read, not during it: an input may repeat a row key
(two rows with ``id: q7``), and the run names records by id everywhere (dedup
decisions, ``exclusions.jsonl``), so the second becomes ``q7#1``, the third ``q7#2``, per
input, in read order. Numbering while reading needs a table of every key of the input
in one place (about 90 bytes a record, issue 20). Here nothing per record is on the
driver, and every step is a job the executor runs in the workers:

1. the driver plans pieces of the inputs (a JSONL byte range, parquet row groups, a tar,
   a chunk of a folder: ``read_pieces.py``); per job of pieces (``read_piece``), the
   worker reads them and writes shard files (ids as ``name:key``, unnumbered) with a key
   column per shard: the input's index, a 32-bit hash and the id of each record; the
   driver then numbers the shards in job order (renames: ``raw/shard-i.jsonl.gz``,
   ``keys/shard-i.npz``);
2. per partition of the hashes (``number_ids``): every shard's key column, the rows of
   this partition only; rows whose (input, hash) occurs once cannot repeat, the others
   are counted in read order and the n-th repeat of an id gets ``#n``; the renames are
   written per shard;
3. per shard (``apply_ids``): the raw file with its renames becomes ``shard-i.jsonl.gz``
   (renamed in place when it has none, the usual case);
4. the driver writes ``done.json`` (shard count, the shards that reference an image) and
   removes the files of steps 1-3 (``pieces/``, ``keys/``, ``ids/``, ``raw/``).

Each job writes its files atomically and skips what exists, so a killed read resumes.
The ids, records and exclusions equal one stream's over every input with the reader's
single table (``tests/data/curation/test_read_ids.py``, ``test_read_pieces.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.core.hashing import FileDigests, path_fingerprint, sha256_text, stable_json
from lingshu.data.curate import read_pieces
from lingshu.data.curate.partition import MAX_PARTS, unstrings
from lingshu.data.curate.paths import stage_input
from lingshu.data.curate.read_pieces import keys_file
from lingshu.data.curate.recipe import Recipe
from lingshu.data.curate.stage_files import (
    FORMAT,
    read_stage,
    shard_name,
    stage_file,
    write_json,
    write_stage,
)


def key_hash(rid: str) -> int:
    """32 bits of an id: picks its partition; equal hashes are told apart by the id."""
    return zlib.crc32(rid.encode("utf-8"))


def _renames_dir(read_dir: Path, i: int) -> Path:
    return read_dir / "ids" / shard_name(i)


def read_key(recipe: Recipe, local: list[Path], digests: FileDigests | None) -> str:
    """The read step's key: the inputs' specs and content, the shard size, the format."""
    return sha256_text(stable_json([s.model_dump(mode="json") for s in recipe.inputs]) +
                       str(recipe.output.shard_size) + FORMAT + read_pieces.LAYOUT +
                       str(read_pieces.PIECE_BYTES) +
                       stable_json([path_fingerprint(p, digests) for p in local]))[:12]


def read_shards(recipe: Recipe, work: Path, run: Callable[[list[dict]], Any],
                digests: FileDigests | None = None) -> tuple[Path, int]:
    """Every input into shards of ``shard_size`` records (plus the rows the readers
    excluded), read and given unique ids by jobs ``run`` (an executor's ``run``) hands
    the workers. On resume a job rereads its pieces but rewrites only missing files."""
    local = [stage_input(s.name, s.path, recipe.base_dir, work) for s in recipe.inputs]
    read_dir = work / f"read-{read_key(recipe, local, digests)}"
    done = read_dir / "done.json"
    if done.exists():
        _drop_scratch(read_dir)  # a kill between done.json and the removal left them
        return read_dir, json.loads(done.read_text())["shards"]
    raw = read_dir / "raw" / "done.json"
    if not raw.exists():
        pieces = read_pieces.plan(recipe.inputs, local, read_pieces.PIECE_BYTES)
        common = {"kind": "read_piece", "read_dir": str(read_dir), "work": str(work),
                  "base_dir": str(recipe.base_dir), "shard_size": recipe.output.shard_size,
                  "inputs": json.dumps([s.model_dump(mode="json") for s in recipe.inputs]),
                  "paths": json.dumps([str(p) for p in local])}
        jobs = [{**common, "job": g, "pieces": p} for g, p in enumerate(pieces)
                if not (read_pieces.job_dir(read_dir, g) / "done.json").exists()]
        if jobs:
            run(jobs)
        write_json(raw, read_pieces.number_shards(read_dir, len(pieces)))
        read_pieces.remove_pieces(read_dir)
    info = json.loads(raw.read_text())
    n = info["shards"]
    parts = max(1, min(n, MAX_PARTS))
    base = {"read_dir": str(read_dir), "shards": n, "parts": parts}
    for jobs in ([{**base, "kind": "ids", "part": q} for q in range(parts)
                  if not (read_dir / "ids" / f"part-{q:03d}.json").exists()],
                 [{**base, "kind": "ids_apply", "part": i} for i in range(n)
                  if not stage_file(read_dir, i).exists()]):
        if jobs:
            run(jobs)
    write_json(done, info)
    _drop_scratch(read_dir)
    return read_dir, n


def _drop_scratch(read_dir: Path) -> None:
    """Steps 1-3's own files (pieces, key columns, renames, raw/): once ``done.json`` is
    written nothing reads them again."""
    for name in ("pieces", "keys", "ids", "raw"):
        shutil.rmtree(read_dir / name, ignore_errors=True)


def number_ids(job: dict[str, Any]) -> str:
    """Step 2, one partition of the key hashes: the renames of its repeated ids."""
    read_dir, q, parts = Path(job["read_dir"]), job["part"], job["parts"]
    out = read_dir / "ids" / f"part-{q:03d}.json"
    if out.exists():
        return out.name
    cols: dict[str, list[np.ndarray]] = {"input": [], "hash": [], "shard": [], "pos": []}
    for i in range(job["shards"]):
        with np.load(keys_file(read_dir, i)) as z:
            mine = np.flatnonzero(z["hash"] % parts == q)
            cols["input"].append(z["input"][mine])
            cols["hash"].append(z["hash"][mine])
        cols["shard"].append(np.full(len(mine), i, dtype=np.int64))
        cols["pos"].append(mine)
    c = {k: np.concatenate(v) for k, v in cols.items()}
    tag = (c["input"].astype(np.uint64) << np.uint64(32)) | c["hash"].astype(np.uint64)
    _, inverse, counts = np.unique(tag, return_inverse=True, return_counts=True)
    maybe = np.flatnonzero(counts[inverse] > 1)  # in read order: shard, then position
    seen: dict[tuple[int, str], int] = {}
    renames: dict[int, list[list]] = {}
    loaded: dict[int, list[str]] = {}
    for r in maybe.tolist():
        i, pos = int(c["shard"][r]), int(c["pos"][r])
        if i not in loaded:
            loaded = {i: _ids(read_dir, i)}  # rows come shard by shard: one held at a time
        rid = loaded[i][pos]
        key = (int(c["input"][r]), rid)
        k = seen.get(key, 0)
        seen[key] = k + 1
        if k:
            renames.setdefault(i, []).append([pos, f"{rid}#{k}"])
    for i, rows in renames.items():
        write_json(_renames_dir(read_dir, i) / f"part-{q:03d}.json", rows)
    write_json(out, {"renamed": sum(map(len, renames.values()))})
    return out.name


def _ids(read_dir: Path, i: int) -> list[str]:
    with np.load(keys_file(read_dir, i)) as z:
        return unstrings(z["ids"])


def apply_ids(job: dict[str, Any]) -> str:
    """Step 3, one shard: its raw file with the renames as the read step's shard file."""
    read_dir, i = Path(job["read_dir"]), job["part"]
    out = stage_file(read_dir, i)
    if out.exists():
        return out.name
    raw = stage_file(read_dir / "raw", i)
    renames = [r for p in sorted(_renames_dir(read_dir, i).glob("part-*.json"))
               for r in json.loads(p.read_text())]
    if not renames:
        os.replace(raw, out)  # atomic: the file is complete under either name
        return out.name
    records, exclusions = read_stage(raw)
    for pos, rid in renames:
        records[pos]["id"] = rid
    write_stage(out, records, exclusions)
    raw.unlink()
    return out.name
