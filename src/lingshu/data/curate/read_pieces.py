"""Step 1 of the read step in the workers: inputs cut into pieces, each read by a job.

Why: parsing every input on the driver made the driver the bottleneck of a cluster run
and held a shard of records in it (issue 20). The driver now only plans: it asks each
input's reader how it splits (``readers.SPLITS``: JSONL by byte ranges starting at a line,
parquet by row groups, webdataset by tar, image and DICOM folders by chunks of their
sorted files; any other format, and an input with ``limit:``, is one piece) and groups
the pieces, in read order, into jobs of about :data:`PIECE_BYTES`. A job (``read_piece``)
reads its pieces with the readers' own code and writes its shards of at most
``shard_size`` records and their key columns, in order, into ``pieces/job-g/``; the
driver then numbers the shards of every job, in job order, ``raw/shard-i`` (renames: no
record read), so steps 2-3 see what one stream gave.

What stays equal to one stream: the records and exclusions, their order and their ids (a
piece knows its first line / row number, the key of a row without an id). What changes:
a shard ends where a job ends, so an input larger than one job gives a few shards of
fewer records; recipes under :data:`PIECE_BYTES` are one job, the shards of one stream.

The JSONL scan reads the file in :data:`BLOCK` blocks counting newlines: no row parsed,
nothing kept but one offset and line number per piece.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.data.curate.folder_readers import folder_files
from lingshu.data.curate.partition import strings, write_npz
from lingshu.data.curate.readers import (
    SPLITS,
    input_format,
    parquet_files,
    read_input,
    register_split,
)
from lingshu.data.curate.record import Record
from lingshu.data.curate.stage_files import shard_name, stage_file, write_json, write_stage

log = logging.getLogger(__name__)

PIECE_BYTES = 8 * 2**20
"""A job's share of the input: small enough that a 100K-record text input (about 40 MB)
gives every worker of a small pool a few jobs, large enough that a job's last, partial
shard is one of many. Part of the read step's key (it decides the shard boundaries)."""

BLOCK = 2**20
"""The JSONL scan's read size: counting newlines runs at memory speed in any block of a
MiB or more, and a larger one only adds to the driver's peak memory (16 MiB did)."""

FOLDER_FILES = 2048
"""Files per piece of an image or DICOM folder (a piece weighs its share of PIECE_BYTES)."""

LAYOUT = "pieces-1"
"""Part of the read step's key: shards cut by these jobs are never mixed with a read
folder cut another way."""


def keys_file(folder: Path, i: int) -> Path:
    """Shard ``i``'s key column (input, hash, id) in ``folder/keys``."""
    return folder / "keys" / f"{shard_name(i)}.npz"


# ---- how each format splits (readers.SPLITS) -------------------------------------------

@register_split("jsonl")
def _split_jsonl(path: Path, piece_bytes: int) -> list[tuple[dict[str, Any], int]]:
    """Byte ranges ``[start, end)`` of about ``piece_bytes``, each ending after a newline,
    with the number of the range's first line (``enumerate`` over the file's lines)."""
    size = path.stat().st_size
    cuts = [(0, 0)]  # (offset, line number) of every piece's start
    pos = lines = 0
    target = piece_bytes
    with path.open("rb") as fh:
        while block := fh.read(BLOCK):
            while target < pos + len(block):
                j = block.find(b"\n", target - pos)
                if j < 0:
                    break  # the line goes on in the next block
                cut = pos + j + 1
                if cut < size:
                    cuts.append((cut, lines + block.count(b"\n", 0, j + 1)))
                target = cut + piece_bytes
            lines += block.count(b"\n")
            pos += len(block)
            target = max(target, pos)
    ends = [c for c, _ in cuts[1:]] + [size]
    return [({"start": s, "end": e, "line": n}, e - s)
            for (s, n), e in zip(cuts, ends, strict=True)]


@register_split("parquet")
def _split_parquet(path: Path, piece_bytes: int) -> list[tuple[dict[str, Any], int]]:
    """Runs of row groups of about ``piece_bytes`` (uncompressed, from the footer)."""
    import pyarrow.parquet as pq

    out = []
    for k, f in enumerate(parquet_files(path)):
        meta = pq.ParquetFile(f).metadata
        a, row, weight = 0, 0, 0
        for g in range(meta.num_row_groups):
            weight += meta.row_group(g).total_byte_size
            if weight >= piece_bytes or g == meta.num_row_groups - 1:
                out.append(({"file": k, "groups": [a, g + 1], "row": row}, weight))
                row += sum(meta.row_group(x).num_rows for x in range(a, g + 1))
                a, weight = g + 1, 0
    return out


@register_split("webdataset")
def _split_webdataset(path: Path, piece_bytes: int) -> list[tuple[dict[str, Any], int]]:
    """One piece per tar (keys are ``tar-stem/member``, independent of other tars)."""
    tars = sorted(path.rglob("*.tar")) if path.is_dir() else [path]
    return [({"tar": k}, t.stat().st_size) for k, t in enumerate(tars)]


def _split_folder(fmt: str) -> Any:
    def split(path: Path, piece_bytes: int) -> list[tuple[dict[str, Any], int]]:
        n = len(folder_files(fmt, path))
        return [({"first": a, "count": min(FOLDER_FILES, n - a)},
                 piece_bytes * min(FOLDER_FILES, n - a) // FOLDER_FILES)
                for a in range(0, n, FOLDER_FILES)]

    split.__doc__ = f"Chunks of {FOLDER_FILES} of the folder's sorted files (keys: paths)."
    return split


for _fmt in ("image_folder", "dicom_folder"):
    register_split(_fmt)(_split_folder(_fmt))


# ---- the driver's plan and the jobs ---------------------------------------------------

def plan(specs: list[Any], local: list[Path], piece_bytes: int = PIECE_BYTES) -> list[str]:
    """Every job's pieces, as JSON text: ``[[input index, piece or None], ...]``. Pieces
    are taken in read order and a job closes once it holds ``piece_bytes``; an input that
    does not split weighs nothing (it is read in one go wherever it lands)."""
    jobs: list[list] = [[]]
    weight = 0
    for x, (spec, path) in enumerate(zip(specs, local, strict=True)):
        fmt = input_format(spec, path)
        split = SPLITS.get(fmt) if spec.limit is None else None  # limit: counts the input
        pieces = (split(path, piece_bytes) if split else []) or [(None, 0)]
        for piece, w in pieces:
            jobs[-1].append([x, piece])
            weight += w
            if weight >= piece_bytes:
                jobs.append([])
                weight = 0
    return [json.dumps(j, sort_keys=True) for j in jobs if j]


def job_dir(read_dir: Path, g: int) -> Path:
    return read_dir / "pieces" / f"job-{g:05d}"


def read_piece(job: dict[str, Any]) -> str:
    """One job's pieces into ``pieces/job-g/``: shard files of at most ``shard_size``
    records with their key columns, each written atomically and skipped when it exists
    (a killed job rereads its pieces and writes what is missing), then ``done.json``
    (shard count, the shards whose records reference an image)."""
    from lingshu.data.curate.read_step import key_hash
    from lingshu.data.curate.recipe import InputSpec

    folder = job_dir(Path(job["read_dir"]), job["job"])
    done = folder / "done.json"
    if done.exists():
        return done.name
    specs = [InputSpec(**s) for s in json.loads(job["inputs"])]
    local = json.loads(job["paths"])
    size, work, base = job["shard_size"], Path(job["work"]), Path(job["base_dir"])
    buf: list[dict] = []
    excl: list[dict] = []
    keys: list[tuple[int, str]] = []
    n = 0
    with_images: list[int] = []
    has_image = False

    def flush() -> None:
        nonlocal buf, excl, keys, n, has_image
        path = stage_file(folder, n)
        if not path.exists():
            ids = [k for _, k in keys]
            write_npz(keys_file(folder, n), {
                "input": np.array([x for x, _ in keys], dtype=np.int32),
                "hash": np.array([key_hash(k) for k in ids], dtype=np.uint32),
                "ids": strings(ids)})
            write_stage(path, buf, excl)
        if has_image:
            with_images.append(n)
        n += 1
        buf, excl, keys, has_image = [], [], [], False

    for x, piece in json.loads(job["pieces"]):
        for item in read_input(specs[x], work, base, Path(local[x]), number_ids=False,
                               piece=piece):
            if isinstance(item, Record):
                has_image = has_image or bool(item.images())
                buf.append(item.to_dict())
                keys.append((x, item.id))
                if len(buf) >= size:
                    flush()
            else:
                log.warning("%s: excluded at read: %s", item["id"], item["reason"])
                excl.append(item)
    if buf or excl:
        flush()
    write_json(done, {"shards": n, "with_images": with_images})
    return done.name


def number_shards(read_dir: Path, jobs: int) -> dict[str, Any]:
    """The driver, after every job: job g's shard j becomes ``raw/shard-(offset + j)`` in
    job order (renames of complete files; one already moved is skipped, so a kill here
    resumes). With nothing read at all, one empty shard (as one stream gave)."""
    raw = read_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    n = 0
    with_images: list[int] = []
    for g in range(jobs):
        folder = job_dir(read_dir, g)
        info = json.loads((folder / "done.json").read_text())
        for j in range(info["shards"]):
            for src, dst in ((keys_file(folder, j), keys_file(read_dir, n + j)),
                             (stage_file(folder, j), stage_file(raw, n + j))):
                if not dst.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, dst)
        with_images += [n + j for j in info["with_images"]]
        n += info["shards"]
    if n == 0:
        write_npz(keys_file(read_dir, 0), {"input": np.zeros(0, dtype=np.int32),
                                           "hash": np.zeros(0, dtype=np.uint32),
                                           "ids": strings([])})
        write_stage(stage_file(raw, 0), [], [])
        n = 1
    return {"shards": n, "with_images": with_images}


def remove_pieces(read_dir: Path) -> None:
    shutil.rmtree(read_dir / "pieces", ignore_errors=True)
