"""The dedup decision partitioned by hash band (``curate/partition.py``) equals the op's
``decide`` over every record at once (the decision before partitioning), on corpora whose
duplicates cross shards, chain (A ~ B ~ C with A and C apart) and compete across sources
of different priority; and the controls show the corpora need the cross-shard step."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from lingshu.data.curate import parse_recipe
from lingshu.data.curate.ops.bands import flip_masks, hamming_bands
from lingshu.data.curate.partition import decide_partitioned, pack_shard, sig_file, write_npz
from lingshu.data.curate.record import Record, conversation
from lingshu.data.curate.shards import (
    decision_file,
    recipe_json,
    run_job,
    segments,
    source_ranks,
)


def _recipe(tmp_path, op: dict):
    (tmp_path / "in.jsonl").write_text("")
    inputs = [{"name": n, "path": "in.jsonl", "priority": p}
              for n, p in (("web", 5), ("book", 1), ("notes", 5))]
    return parse_recipe({"name": "t", "inputs": inputs, "ops": [op],
                         "output": {"dir": str(tmp_path / "out")}}, tmp_path)


def _both(tmp_path, op: dict, records: list[Record], shard: int):
    """(partitioned decision: id -> drop, reference decide over all records, op)."""
    recipe = _recipe(tmp_path, op)
    [(_, glob)] = segments(recipe.build_ops())
    stage = tmp_path / "stage"
    shards = [records[i:i + shard] for i in range(0, len(records), shard)]
    for i, recs in enumerate(shards):
        write_npz(sig_file(stage, i), pack_shard(glob, recs, glob.signatures(recs)))
    common = {"segment": 0, "recipe": recipe_json(recipe), "base_dir": str(tmp_path)}
    dropped = decide_partitioned(glob, stage, len(shards), common,
                                 lambda jobs: [run_job(j) for j in jobs])
    got: dict[str, dict] = {}
    for i in range(len(shards)):
        got.update(json.loads(decision_file(stage / "decisions.json", i).read_text())["drop"])
    assert dropped == len(got)
    entries = [{"id": r.id, "source": r.source, "dataset": r.dataset, "sig": s}
               for r, s in zip(records, glob.signatures(records), strict=True) if s is not None]
    ref = glob.decide(entries, source_ranks(recipe))
    per_shard: dict[str, dict] = {}  # control: each shard decided alone
    for recs in shards:
        part = [e for e in entries if e["id"] in {r.id for r in recs}]
        per_shard.update(glob.decide(part, source_ranks(recipe)))
    return got, ref, per_shard


def _text_corpus(seed: int) -> list[Record]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)]
    base = [" ".join(rng.choice(words) for _ in range(80)) for _ in range(120)]
    texts = list(base)
    for t in base[:40]:  # near copies (one word changed: 5-gram Jaccard ~0.88)
        w = t.split()
        w[rng.randrange(80)] = "changed"
        texts.append(" ".join(w))
    for t in base[40:60]:  # exact copies, case and spacing changed
        texts.append("  " + t.upper())
    for t in base[60:70]:  # chains: each step one word, ends three words apart
        w = t.split()
        for k in range(3):
            w[10 + 25 * k] = f"chain{k}"
            texts.append(" ".join(w))
    rng.shuffle(texts)
    sources = ["web", "book", "notes"]
    return [Record(id=f"r{i}", source=(s := rng.choice(sources)), dataset=s,
                   messages=conversation(t, "answer", [])) for i, t in enumerate(texts)]


@pytest.mark.parametrize("scope", ["global", "dataset"])
def test_text_dedup_partitioned_equals_one_decision(tmp_path, scope):
    records = _text_corpus(1)
    got, ref, per_shard = _both(tmp_path, {"op": "text_dedup", "scope": scope}, records, 23)
    assert got == ref
    # exact + near copies and chain steps found (within a dataset: fewer, sources random)
    assert len(ref) >= (60 if scope == "global" else 15)
    # the control: shards decided alone miss the copies that sit in other shards
    assert len(per_shard) < len(ref) - (20 if scope == "global" else 5)


def _hash_records(seed: int) -> list[Record]:
    """Records carrying stored 64-bit pHashes (``image_phash`` stats): originals, copies
    0-6 bits away, chains of 3-bit steps, and records with two images."""
    rng = random.Random(seed)

    def flip(h: int, k: int) -> int:
        for b in rng.sample(range(64), k):
            h ^= 1 << b
        return h

    groups: list[list[int]] = []
    for _ in range(150):
        h = rng.getrandbits(64)
        groups.append([h])
    for g in groups[:60]:
        g.append(flip(g[0], rng.randrange(7)))
    for g in groups[60:75]:
        g.append(flip(g[0], 3))
        g.append(flip(g[-1], 3))
    hashes = [[h] for g in groups for h in g]
    hashes += [[groups[i][0], groups[i + 1][0]] for i in range(80, 100, 2)]  # two images
    hashes += [[flip(groups[i][0], 1), flip(groups[i + 1][0], 2)] for i in range(80, 100, 2)]
    rng.shuffle(hashes)
    out = []
    for i, hs in enumerate(hashes):
        src = rng.choice(["web", "book", "notes"])
        r = Record(id=f"i{i}", source=src, dataset=src,
                   messages=conversation(rng.choice(["Describe.", "What organ?"]), "x",
                                         [f"/nonexistent/{i}-{k}.png" for k in range(len(hs))]))
        r.stats["image_phash"] = {"algorithm": "imagehash", "hash_size": 8,
                                  "hashes": [f"{h:016x}" for h in hs]}
        out.append(r)
    return out


@pytest.mark.parametrize("params", [
    {"threshold": 4}, {"threshold": 0}, {"threshold": 4, "scope": "dataset", "with_text": True},
    {"threshold": 9},
])
def test_image_dedup_partitioned_equals_one_decision(tmp_path, params):
    records = _hash_records(2)
    got, ref, per_shard = _both(tmp_path, {"op": "image_dedup", **params}, records, 31)
    assert got == ref
    assert len(ref) >= (20 if params["threshold"] == 0 or "scope" in params else 50)
    assert len(per_shard) < len(ref)


def test_hamming_bands_reach_every_pair_within_the_threshold():
    """The pigeonhole behind the image bands: hashes within t bits agree, in some band,
    up to one of that band's flip masks (checked on every distance 0..t for t = 4)."""
    m, r = hamming_bands(64, 4)
    assert (m, r) == (3, 1)  # three bands of 21-22 bits, one bit flipped at most
    assert len(flip_masks(22, 1)) == 23 and len(flip_masks(21, 0)) == 1
    rng = random.Random(5)
    w = -(-64 // m)
    for _ in range(2000):
        a = rng.getrandbits(64)
        b = a
        for bit in rng.sample(range(64), rng.randrange(5)):
            b ^= 1 << bit
        band_d = [bin(((a ^ b) >> (k * w)) & ((1 << w) - 1)).count("1") for k in range(m)]
        assert min(band_d) <= r


def test_signature_files_are_binary_and_small(tmp_path):
    records = _text_corpus(3)
    recipe = _recipe(tmp_path, {"op": "text_dedup"})
    [(_, glob)] = segments(recipe.build_ops())
    cols = pack_shard(glob, records, glob.signatures(records))
    assert cols["m"].dtype == np.uint32 and cols["m"].shape == (len(records), 128)
    write_npz(tmp_path / "s.npz", cols)
    per_record = (tmp_path / "s.npz").stat().st_size / len(records)
    # 512 bytes of MinHash + 10 band keys (80) + exact hash (40) + ids and sources
    assert 600 < per_record < 750, per_record


def test_a_decision_stopped_after_any_job_resumes_to_the_same_drops(tmp_path):
    """The decision's jobs each write their files atomically and are skipped when done:
    stopped after job k (for every k of the run), a second call finishes it with the
    same drops as an uninterrupted one."""
    records = _hash_records(4)[:120]
    recipe = _recipe(tmp_path, {"op": "image_dedup", "threshold": 4})
    [(_, glob)] = segments(recipe.build_ops())
    common = {"segment": 0, "recipe": recipe_json(recipe), "base_dir": str(tmp_path)}
    shards = [records[i:i + 25] for i in range(0, len(records), 25)]

    def stage_with_sigs(name: str):
        stage = tmp_path / name
        for i, recs in enumerate(shards):
            write_npz(sig_file(stage, i), pack_shard(glob, recs, glob.signatures(recs)))
        return stage

    def drops(stage) -> dict:
        out = {}
        for i in range(len(shards)):
            out.update(json.loads(decision_file(stage / "decisions.json", i).read_text())["drop"])
        return out

    clean = stage_with_sigs("clean")
    ran: list[str] = []
    decide_partitioned(glob, clean, len(shards), common,
                       lambda jobs: ran.extend(run_job(j) for j in jobs))
    want = drops(clean)
    assert len(want) >= 15 and len(ran) == 3 + 1 + 5 + 5  # 3 bands, components, 5 parts, 5 gathers

    class Stop(Exception):
        pass

    for k in range(len(ran)):
        stage = stage_with_sigs(f"stop{k}")
        done = [0]

        def stop_after_k(jobs, k=k, done=done):
            for j in jobs:
                if done[0] == k:
                    raise Stop
                run_job(j)
                done[0] += 1

        with pytest.raises(Stop):
            decide_partitioned(glob, stage, len(shards), common, stop_after_k)
        decide_partitioned(glob, stage, len(shards), common,
                           lambda jobs: [run_job(j) for j in jobs])
        assert drops(stage) == want, k
