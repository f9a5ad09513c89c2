"""A dedup op's global decision, partitioned by hash band and run in the workers.

Why: the decision used to run on the driver over every record's signature (about 2.4 KB
per record even packed: 2.4 GB more at 1M records). Here the driver only schedules jobs
and sums a few counts; every job holds one shard, one band column or one partition.

Phases, each a list of jobs the executor runs (``run_job`` dispatches on ``kind``); each
job writes its own files atomically, so a killed run resumes where it stopped:

1. per shard (``shards.process_shard``): the op's signatures as binary columns,
   ``sig/shard-i.npz``: ids, sources, datasets, the op's own columns (``GlobalOp.pack``)
   and its bucket keys (``b_keys``: one uint64 per band, the op's scope mixed in).
2. per band (``band_edges``): every shard's key column; records sharing a key (or, for
   Hamming near duplicates, within the band's radius and verified) become edges.
3. one job (``components``): connected components of the edges (scipy); each record in a
   component goes to resolve partition ``component id mod parts``. Records in no edge
   (most of a corpus) can neither be dropped nor cause a drop and are left out.
4. per partition (``resolve``): the op's own ``decide`` over the partition's records in
   global order; the drops written per shard.
5. per shard (``gather``): the shard's drops merged into ``decisions/shard-i.json``.

Why this equals one ``decide`` over every record: ``decide`` is a greedy pass in rank order
in which a record is dropped for, or keeps, only a record it shares a bucket with (its LSH
or Hamming index finds candidates nowhere else). Records in different components of the
"shares a bucket" graph never meet, so ``decide`` over any union of whole components, with
the records in their global relative order, makes the same choice for each of them
(``tests/data/curation/test_partitioned_dedup.py`` checks it against ``decide`` on all).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.core.io import atomic_write_bytes
from lingshu.data.curate.stage_files import shard_name, write_json

MAX_PARTS = 16
"""Resolve partitions at most: enough to keep every worker of a node busy."""


def sig_file(stage: Path, i: int) -> Path:
    return stage / "sig" / f"{shard_name(i)}.npz"


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def write_npy(path: Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array)
    atomic_write_bytes(path, buf.getvalue())


def strings(values: list[str]) -> np.ndarray:
    """UTF-8 bytes (numpy ``S``): no pickled objects in the binary files."""
    return np.array([v.encode("utf-8") for v in values], dtype=bytes) if values \
        else np.zeros(0, dtype="S1")


def unstrings(array: np.ndarray) -> list[str]:
    return [v.decode("utf-8") for v in array.tolist()]


def pack_shard(op: Any, records: list, sigs: list[Any]) -> dict[str, np.ndarray]:
    """The shard's signatures as the binary columns of ``sig/shard-i.npz``."""
    live = [(r, s) for r, s in zip(records, sigs, strict=True) if s is not None]
    recs = [r for r, _ in live]
    cols = {"n": np.array(len(live)), "ids": strings([r.id for r in recs]),
            "source": strings([r.source for r in recs]),
            "dataset": strings([r.dataset for r in recs])}
    cols.update(op.pack([s for _, s in live]))
    cols.update(op.buckets(cols, [r.dataset for r in recs]))
    return cols


def _stage_job(job: dict[str, Any]) -> tuple[Any, Path]:
    from lingshu.data.curate.shards import ops_for, segments

    _, glob = segments(ops_for(job["recipe"], job["base_dir"]))[job["segment"]]
    return glob, Path(job["stage"])


def _chain(groups_sorted_keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Edges joining consecutive members of each run of equal keys (sorted input)."""
    same = groups_sorted_keys[1:] == groups_sorted_keys[:-1]
    return np.stack([ids[:-1][same], ids[1:][same]], axis=1)


def _band_column(stage: Path, n: int, band: int, hamming: bool) -> dict[str, np.ndarray]:
    """Band ``band`` of every shard, rows tagged with their global entry index."""
    keys, gids, hashes, scopes = [], [], [], []
    offset = 0
    for i in range(n):
        with np.load(sig_file(stage, i)) as z:
            keys.append(z["b_keys"][:, band])
            gids.append(z["b_entry"].astype(np.int64) + offset)
            if hamming:
                hashes.append(z["b_hash"])
                scopes.append(z["b_scope"])
            offset += int(z["n"])
    cat = (lambda xs, t: np.concatenate(xs) if xs else np.zeros(0, dtype=t))  # noqa: E731
    out = {"key": cat(keys, np.uint64), "gid": cat(gids, np.int64)}
    if hamming:
        out["hash"], out["scope"] = cat(hashes, np.uint64), cat(scopes, np.uint64)
    return out


def _range_pairs(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query index, stored index) for every stored index in [lo[q], hi[q])."""
    counts = hi - lo
    q = np.repeat(np.arange(len(lo)), counts)
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    return q, starts + np.arange(counts.sum())


def _hamming_edges(col: dict[str, np.ndarray], band: int, masks: list[int],
                   threshold: int) -> np.ndarray:
    """Edges between rows whose full hashes are within ``threshold`` bits (same scope):
    candidates share the band's key up to one of ``masks`` (multi-index hashing: with m
    bands of radius threshold // m, a pair within the threshold agrees in some band up to
    that radius), verified by popcount. Identical hashes are chained first (band 0) and
    one of each is searched, so a hash copied a thousand times costs no million pairs."""
    order = np.lexsort((col["gid"], col["hash"], col["scope"]))
    h, s, g, k = (col[x][order] for x in ("hash", "scope", "gid", "key"))
    new = np.ones(len(h), dtype=bool)
    new[1:] = (h[1:] != h[:-1]) | (s[1:] != s[:-1])
    edges = [] if band else [_chain(np.cumsum(new), g)]
    h, s, g, k = h[new], s[new], g[new], k[new]
    by_key = np.argsort(k, kind="stable")
    sk = k[by_key]
    for mask in masks:
        want = k ^ np.uint64(mask)
        qi, si = _range_pairs(np.searchsorted(sk, want, "left"),
                              np.searchsorted(sk, want, "right"))
        si = by_key[si]
        keep = (qi < si) & (s[qi] == s[si])
        qi, si = qi[keep], si[keep]
        close = np.bitwise_count(h[qi] ^ h[si]) <= threshold
        edges.append(np.stack([g[qi][close], g[si][close]], axis=1))
    return np.concatenate(edges) if edges else np.zeros((0, 2), dtype=np.int64)


def band_edges(job: dict[str, Any]) -> str:
    """Phase 2: the edges of one band column over every shard."""
    op, stage = _stage_job(job)
    out = stage / "edges" / f"band-{job['band']:03d}.npy"
    if out.exists():
        return out.name
    hamming = op.hamming_threshold() is not None
    col = _band_column(stage, job["shards"], job["band"], hamming)
    if hamming:
        edges = _hamming_edges(col, job["band"], op.band_masks(job["band"]),
                               op.hamming_threshold())
    else:
        order = np.argsort(col["key"], kind="stable")
        edges = _chain(col["key"][order], col["gid"][order])
    write_npy(out, edges.astype(np.int64))
    return out.name


def components(job: dict[str, Any]) -> str:
    """Phase 3: connected components of all bands' edges, as resolve partitions."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    op, stage = _stage_job(job)
    done = stage / "parts" / "done.json"
    if done.exists():
        return done.name
    n, parts = job["shards"], job["parts"]
    offsets = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        with np.load(sig_file(stage, i)) as z:
            offsets[i + 1] = offsets[i] + int(z["n"])
    edges = np.concatenate([np.load(stage / "edges" / f"band-{b:03d}.npy")
                            for b in range(op.band_count())])
    nodes, flat = np.unique(edges.ravel(), return_inverse=True)
    pairs = flat.reshape(-1, 2)
    label = np.zeros(0, dtype=np.int64)
    if len(nodes):
        graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
                           shape=(len(nodes), len(nodes)))
        _, label = connected_components(graph, directed=False)
    write_npy(stage / "parts" / "offsets.npy", offsets)
    for q in range(parts):
        write_npy(stage / "parts" / f"part-{q:03d}.npy", nodes[label % parts == q])
    write_json(done, {"parts": parts, "records": len(nodes), "edges": len(edges)})
    return done.name


def resolve(job: dict[str, Any]) -> str:
    """Phase 4: ``decide`` over one partition's records (whole components, global order)."""
    from lingshu.data.curate.recipe import Recipe
    from lingshu.data.curate.shards import source_ranks

    op, stage = _stage_job(job)
    q = job["part"]
    done = stage / "resolve" / f"part-{q:03d}.json"
    if done.exists():
        return done.name
    gids = np.load(stage / "parts" / f"part-{q:03d}.npy")
    offsets = np.load(stage / "parts" / "offsets.npy")
    shard = np.searchsorted(offsets, gids, "right") - 1
    entries: list[dict[str, Any]] = []
    where: dict[str, tuple[int, int]] = {}
    for i in np.unique(shard).tolist():
        local = gids[shard == i] - offsets[i]
        with np.load(sig_file(stage, i)) as z:
            cols = {k: z[k] for k in z.files}
        ids, src, ds = (unstrings(cols[k][local]) for k in ("ids", "source", "dataset"))
        for j, rid, s, d, sig in zip(local.tolist(), ids, src, ds, op.unpack(cols, local),
                                     strict=True):
            entries.append({"id": rid, "source": s, "dataset": d, "sig": sig})
            where[rid] = (i, j)
    data = json.loads(job["recipe"])
    data["base_dir"] = job["base_dir"]
    drop = op.decide(entries, source_ranks(Recipe(**data)))
    per_shard: dict[int, list] = {}
    for rid, d in drop.items():
        i, j = where[rid]
        per_shard.setdefault(i, []).append([j, rid, d])
    for i, rows in per_shard.items():
        write_json(stage / "decisions" / "parts" / shard_name(i) /
                          f"part-{q:03d}.json", sorted(rows, key=lambda r: r[0]))
    write_json(done, {"dropped": len(drop)})
    return done.name


def gather(job: dict[str, Any]) -> str:
    """Phase 5: shard ``i``'s drops from every partition, in record order."""
    from lingshu.data.curate.shards import decision_file

    op, stage = _stage_job(job)
    out = decision_file(stage / "decisions.json", job["shard"])
    if out.exists():
        return out.name
    rows = [r for p in sorted((stage / "decisions" / "parts" /
                               shard_name(job["shard"])).glob("part-*.json"))
            for r in json.loads(p.read_text())]
    rows.sort(key=lambda r: r[0])
    write_json(out, {"op": op.label, "drop": {rid: d for _, rid, d in rows}})
    return out.name


def decide_partitioned(op: Any, stage: Path, n: int, common: dict[str, Any],
                       run: Any) -> int:
    """Run phases 2-5 of ``op`` over ``stage`` with ``run`` (an executor's ``run``);
    returns the number of records dropped (the only number the driver holds)."""
    base = {**common, "stage": str(stage), "shards": n, "band": 0, "part": 0, "shard": 0}
    parts = max(1, min(n, MAX_PARTS))
    base["parts"] = parts
    steps = [
        [{**base, "kind": "bands", "band": b} for b in range(op.band_count())
         if not (stage / "edges" / f"band-{b:03d}.npy").exists()],
        [{**base, "kind": "components"}] if not (stage / "parts" / "done.json").exists()
        else [],
        [{**base, "kind": "resolve", "part": q} for q in range(parts)
         if not (stage / "resolve" / f"part-{q:03d}.json").exists()],
        [{**base, "kind": "gather", "shard": i} for i in range(n)
         if not (stage / "decisions" / f"{shard_name(i)}.json").exists()],
    ]
    for jobs in steps:
        if jobs:
            run(jobs)
    return sum(json.loads((stage / "resolve" / f"part-{q:03d}.json").read_text())["dropped"]
               for q in range(parts))
