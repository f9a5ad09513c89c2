"""Run a recipe: read into shards, run op segments shard by shard, decide globally, write.

Layout of a run (``OUT`` = ``output.dir``, a local folder or a URL; ``OUT/.work`` is the
work folder, ``output.work_dir`` when given: local, on a filesystem every node mounts)::

    OUT/.work/read-<h>/pieces/job-00000/     a read job's shards (read_pieces.py), then
    OUT/.work/read-<h>/raw/shard-00000.jsonl.gz  the shard as read, ids not yet numbered;
                                            becomes shard-00000.jsonl.gz (read_step.py)
    OUT/.work/read-<h>/keys/shard-00000.npz  the shard's ids (input, hash, id), and
    OUT/.work/read-<h>/ids/                  the renames (q7 -> q7#1) of repeated ids
                                            (pieces/, raw/, keys/, ids/: removed once
                                            done.json is written)
    OUT/.work/read-<h>/shard-00000.jsonl.gz records + read exclusions, one file per shard
                                            (gzip JSON lines: stage_files.py)
    OUT/.work/read-<h>/done.json             written last: shard count, shards with images
    OUT/.work/read-<h>/images/shard-00000.json  digest of the images the shard's records
                                            reference (rewritten by a job every run)
    OUT/.work/stage<k>-<h>/shard-00000.jsonl.gz  records after segment k (+ exclusions)
    OUT/.work/stage<k>-<h>/sig/shard-00000.npz  the global op's signatures (binary)
    OUT/.work/stage<k>-<h>/edges, parts, resolve/  its decision's phases (partition.py)
    OUT/.work/stage<k>-<h>/decisions/shard-00000.json  the segment's global op: the
                                            drops of that shard only (id -> reason)
    OUT/.work/stage<k>-<h>/decisions.json   written last: the decision is complete
    OUT/.work/write-<h>/shard-00000.json     the shard's exclusions of every step + counts
    OUT/data/shard-00000.jsonl               training JSONL (CONTRACTS point 2) + data/images/
                                            (written by the shard's job: out_store.py)
    OUT/exclusions.jsonl, summary.json, summary.md, plots/*.png, data_card.md, mixtures/

The per-shard work is ``shards.process_shard``; an executor from the ``EXECUTORS``
registry runs it (``local`` or ``ray``). Every file is written atomically, so a rerun,
or a run resumed after ``kill -9`` at any moment, skips the shards whose file exists and
redoes the others, which neither loses nor duplicates a record. ``<h>`` hashes the inputs
(by content: input files and folders, the images records reference, the files ops read)
and the ops up to that point, so editing a later op reuses the earlier stages. The
images' part is hashed in the workers, one job per read shard that has images
(``shards.image_fingerprint``); the driver combines one digest per shard.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lingshu.core.hashing import FileDigests, sha256_text, stable_json
from lingshu.core.io import remove_stale_temps
from lingshu.core.secrets import without_secrets
from lingshu.data.curate import out_store
from lingshu.data.curate.executors import make_executor
from lingshu.data.curate.partition import decide_partitioned
from lingshu.data.curate.paths import is_url
from lingshu.data.curate.ops.base import GlobalOp
from lingshu.data.curate.read_step import read_shards
from lingshu.data.curate.recipe import Recipe
from lingshu.data.curate.shards import (
    decision_file,
    image_fingerprint,
    param_fingerprints,
    recipe_json,
    segments,
)
from lingshu.data.curate.stage_files import stage_file, write_json
from lingshu.data.curate.writer import RunResult, write_outputs

log = logging.getLogger(__name__)

__all__ = ["RunResult", "run_recipe"]


def run_recipe(recipe: Recipe, *, executor: str = "local", **options: Any) -> RunResult:
    """Run ``recipe`` with the executor ``executor`` (options: its ``Options`` fields, e.g.
    ``workers=2``, ``address="auto"``; ``lingshu data executors`` lists them)."""
    out = recipe.output_location()
    work = recipe.work_folder()
    ops = recipe.build_ops()
    out_store.check_reachable(out)  # an unreachable URL: one line before any work
    roots = [] if is_url(out) else [Path(out)]
    roots += [] if any(work.is_relative_to(r) for r in roots) else [work]
    for root in roots:
        remove_stale_temps(root)  # what a kill -9 between write and rename left behind
    execute = make_executor(executor, ops, **options)
    try:
        return _run(recipe, out, work, ops, execute)
    finally:
        execute.close()


def _run(recipe: Recipe, out: str, work: Path, ops: list, execute: Any) -> RunResult:
    digests = FileDigests()  # every file read by content, each hashed once this run
    read_dir, n = read_shards(recipe, work, execute.run, digests)
    rjson = recipe_json(recipe)
    prev_dir, prev_dec = read_dir, None
    stage_dirs: list[Path] = []
    h = read_dir.name + image_fingerprint(read_dir, execute.run)
    done_ops = 0
    for k, (map_ops, glob) in enumerate(segments(ops)):
        n_ops = len(map_ops) + (glob is not None)
        spec_slice = [without_secrets(s.model_dump(mode="json"))  # a rotated key: same step
                      for s in recipe.ops[done_ops:done_ops + n_ops]]
        done_ops += n_ops
        files = param_fingerprints(spec_slice, recipe.base_dir, digests)  # what ops read
        h = sha256_text(h + stable_json(spec_slice) + str(k) + stable_json(files))[:12]
        stage = work / f"stage{k}-{h}"
        jobs = [
            {"src": str(stage_file(prev_dir, i)), "out": str(stage_file(stage, i)),
             "decisions": str(decision_file(prev_dec, i)) if prev_dec else None,
             "segment": k, "recipe": rjson, "base_dir": str(recipe.base_dir)}
            for i in range(n)
        ]
        todo = [j for j in jobs if not Path(j["out"]).exists()]
        if todo:
            log.info("segment %d: %d of %d shards to run", k, len(todo), n)
            execute.run(todo)
        stage_dirs.append(stage)
        prev_dir, prev_dec = stage, None
        if glob is not None:
            prev_dec = stage / "decisions.json"
            if not prev_dec.exists():
                _decide(glob, stage, n, {"segment": k, "recipe": rjson,
                                         "base_dir": str(recipe.base_dir)}, execute, prev_dec)
    return write_outputs(recipe, out, read_dir, stage_dirs, prev_dec, n, execute)


def _decide(op: GlobalOp, stage: Path, n: int, common: dict[str, Any], execute: Any,
            path: Path) -> None:
    """The global op's decision, partitioned by hash band and run by the executor
    (``partition.py``); the driver writes only the completion marker."""
    dropped = decide_partitioned(op, stage, n, common, execute.run)
    write_json(path, {"op": op.label, "dropped": dropped, "shards": n})
