"""Run a recipe: read into shards, run op segments shard by shard, decide globally, write.

Layout of a run (``OUT`` = ``output.dir``)::

    OUT/.work/read-<h>/shard-00000.json     records + read exclusions, one file per shard
    OUT/.work/stage<k>-<h>/shard-00000.json records after segment k (+ exclusions, signatures)
    OUT/.work/stage<k>-<h>/decisions.json   the segment's global op: id -> reason
    OUT/data/shard-00000.jsonl               training JSONL (CONTRACTS point 2) + data/images/
    OUT/exclusions.jsonl, summary.json, summary.md, plots/*.png, data_card.md, mixtures/

Ops are cut into segments at each global op (dedup): a segment's map ops and the global
op's per-record signature run per shard; the decision runs once over all shards. Every
file is written atomically (``core.io``), so a file that exists is complete: a rerun, or a
run resumed after ``kill -9`` at any moment, skips the shards whose file exists and redoes
the others, which neither loses nor duplicates a record. ``<h>`` hashes the inputs and the
ops up to that point, so editing a later op reuses the earlier stages.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.core.hashing import path_fingerprint, sha256_file, sha256_text, stable_json
from lingshu.core.secrets import without_secrets
from lingshu.core.io import atomic_write_json, atomic_write_text, remove_stale_temps
from lingshu.data.curate.ops.base import GlobalOp, MapOp, Op
from lingshu.data.curate.readers import read_input
from lingshu.data.curate.recipe import Recipe
from lingshu.data.curate.record import Record

log = logging.getLogger(__name__)

Executor = Callable[[Callable[[dict], Any], list[dict]], None]


@dataclass
class RunResult:
    out_dir: Path
    kept: int
    excluded: int
    by_op: dict[str, int] = field(default_factory=dict)


def shard_name(i: int) -> str:
    return f"shard-{i:05d}"


def segments(ops: list[Op]) -> list[tuple[list[MapOp], GlobalOp | None]]:
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


# ---- phase 1: read ---------------------------------------------------------------------


def read_shards(recipe: Recipe, work: Path) -> tuple[Path, int]:
    """Stream every input into shards of ``shard_size`` records (plus the rows the readers
    excluded). Re-reads on resume but rewrites only missing shard files."""
    h = sha256_text(stable_json([s.model_dump(mode="json") for s in recipe.inputs]) +
                    str(recipe.output.shard_size) + stable_json(input_fingerprints(recipe)))[:12]
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


def input_fingerprints(recipe: Recipe) -> list[str]:
    """The content of every input file (or folder) the read step reads: part of its key,
    so a rerun after editing an input reads it again (core.hashing.path_fingerprint)."""
    out = []
    for spec in recipe.inputs:
        path = Path(spec.path).expanduser()
        out.append(path_fingerprint(path if path.is_absolute() else recipe.base_dir / path))
    return out


INPUT_PARAMS = ("data_dir", "tokenizer", "biomedclip_weights")
"""Op parameters naming files or folders the op reads (a decontamination ``data_dir``, a
tokenizer, classifier weights); not caches or outputs, which change as the run writes."""


def param_fingerprints(specs: list[dict[str, Any]], base_dir: Path) -> list[str]:
    """Fingerprints of what the ops' :data:`INPUT_PARAMS` name: part of a segment's key."""
    out = []
    for spec in specs:
        for key in INPUT_PARAMS:
            value = (spec.get("params") or {}).get(key)
            if isinstance(value, str) and value:
                path = Path(value).expanduser()
                out.append(path_fingerprint(path if path.is_absolute() else base_dir / path))
    return out


# ---- phase 2: segments ---------------------------------------------------------------

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


def process_shard(job: dict[str, Any]) -> str:
    """One shard through one segment (the unit both executors schedule)."""
    out = Path(job["out"])
    if out.exists():
        return out.name
    ops = _ops_for(job["recipe"], job["base_dir"])
    seg = segments(ops)[job["segment"]]
    data = json.loads(Path(job["src"]).read_text())
    records = [Record.from_dict(r) for r in data["records"]]
    exclusions: list[dict] = []
    decisions = json.loads(Path(job["decisions"]).read_text()) if job["decisions"] else {}
    if decisions:
        label = decisions["op"]
        kept = []
        for r in records:
            d = decisions["drop"].get(r.id)
            if d is None:
                kept.append(r)
            else:
                exclusions.append({"id": r.id, "source": r.source, "dataset": r.dataset,
                                   "op": label, "reason": d["reason"],
                                   "statistic": d["statistic"]})
        records = kept
    map_ops, glob = seg
    for op in map_ops:
        records, dropped = op.apply(records)
        exclusions.extend(dropped)
    sigs = glob.signatures(records) if glob else []
    atomic_write_json(out, {"records": [r.to_dict() for r in records],
                            "exclusions": exclusions, "sigs": sigs})
    return out.name


def local_executor(workers: int = 1) -> Executor:
    def run(fn: Callable[[dict], Any], jobs: list[dict]) -> None:
        if workers <= 1 or len(jobs) <= 1:
            for j in jobs:
                fn(j)
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fn, jobs))

    return run


def _recipe_json(recipe: Recipe) -> str:
    d = recipe.model_dump(mode="json")
    d.pop("base_dir")
    return stable_json(d)


def run_recipe(
    recipe: Recipe, *, executor: str = "local", workers: int = 1,
    ray_address: str | None = None,
) -> RunResult:
    out_dir = recipe.resolve(recipe.output.dir)
    work = out_dir / ".work"
    remove_stale_temps(out_dir)  # what a kill -9 between write and rename left behind
    ops = recipe.build_ops()
    if executor == "ray":
        from lingshu.data.curate.ray_executor import ray_executor

        execute = ray_executor(workers=workers, address=ray_address, ops=ops)
    elif executor == "local":
        execute = local_executor(workers)
    else:
        raise UserError(f"unknown executor {executor!r}; expected local or ray")

    read_dir, n = read_shards(recipe, work)
    recipe_json = _recipe_json(recipe)
    prev_dir, prev_dec = read_dir, None
    stage_dirs: list[Path] = []
    h = read_dir.name
    done_ops = 0
    for k, (map_ops, glob) in enumerate(segments(ops)):
        n_ops = len(map_ops) + (glob is not None)
        spec_slice = [without_secrets(s.model_dump(mode="json"))  # a rotated key is the same step
                      for s in recipe.ops[done_ops:done_ops + n_ops]]
        done_ops += n_ops
        files = param_fingerprints(spec_slice, recipe.base_dir)
        h = sha256_text(h + stable_json(spec_slice) + str(k) + stable_json(files))[:12]
        stage = work / f"stage{k}-{h}"
        jobs = [
            {"src": str(prev_dir / f"{shard_name(i)}.json"),
             "out": str(stage / f"{shard_name(i)}.json"),
             "decisions": str(prev_dec) if prev_dec else None,
             "segment": k, "recipe": recipe_json, "base_dir": str(recipe.base_dir)}
            for i in range(n)
        ]
        todo = [j for j in jobs if not Path(j["out"]).exists()]
        if todo:
            log.info("segment %d: %d of %d shards to run", k, len(todo), n)
            execute(process_shard, todo)
        stage_dirs.append(stage)
        prev_dir, prev_dec = stage, None
        if glob is not None:
            prev_dec = stage / "decisions.json"
            if not prev_dec.exists():
                _decide(glob, stage, n, recipe, prev_dec)
    from lingshu.data.curate.writer import write_outputs

    return write_outputs(recipe, out_dir, read_dir, stage_dirs, prev_dec, n)


def _decide(op: GlobalOp, stage: Path, n: int, recipe: Recipe, path: Path) -> None:
    entries = []
    for i in range(n):
        data = json.loads((stage / f"{shard_name(i)}.json").read_text())
        for r, sig in zip(data["records"], data["sigs"], strict=True):
            if sig is not None:
                entries.append({"id": r["id"], "source": r["source"],
                                "dataset": r["dataset"], "sig": sig})
    priority = {s.name: (s.priority, i) for i, s in enumerate(recipe.inputs)}
    order = {name: rank for rank, (name, _) in
             enumerate(sorted(priority.items(), key=lambda kv: kv[1]))}
    drop = op.decide(entries, order)
    atomic_write_json(path, {"op": op.label, "drop": drop})


def iter_shard_files(dirs: Iterable[Path], n: int) -> Iterable[dict]:
    for d in dirs:
        for i in range(n):
            yield json.loads((d / f"{shard_name(i)}.json").read_text())


def copy_image(src: str, images_dir: Path) -> str:
    """Content-addressed copy (same bytes -> same file), written atomically."""
    p = Path(src)
    name = sha256_file(p)[:32] + p.suffix.lower()
    dst = images_dir / name
    if not dst.exists():
        images_dir.mkdir(parents=True, exist_ok=True)
        tmp = images_dir / f".{name}.tmp"
        shutil.copyfile(p, tmp)
        tmp.replace(dst)
    return f"images/{name}"


def write_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)
