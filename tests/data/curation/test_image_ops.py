"""Image checks on real and crafted files; pHash dedup exact / near, scoped."""

from __future__ import annotations

import random

import imagehash
import pytest
from curation_helpers import op, rad_images
from PIL import Image

from lingshu.data.curate.ops.hamming import HammingIndex
from lingshu.data.curate.record import Record, conversation


def rec(rid, paths, source="s", dataset=None, q="Describe.", a="x"):
    return Record(id=rid, source=source, dataset=dataset or source,
                  messages=conversation(q, a, [str(p) for p in paths]))


def test_decodable_catches_truncated_corrupt_and_bombs(crafted):
    o = op("image_decodable")
    kept, dropped = o.apply([rec(k, [crafted[k]]) for k in
                             ("orig", "truncated", "corrupt", "bomb", "tiny")])
    assert [r.id for r in kept] == ["orig", "tiny"]
    w, h = Image.open(crafted["orig"]).size
    assert kept[0].stats["image_decodable"] == {"sizes": [[w, h]]}
    why = {d["id"]: d["reason"] for d in dropped}
    assert why["truncated"].startswith("not decodable")
    assert why["corrupt"].startswith("not decodable")
    assert why["bomb"].startswith("decompression bomb guard")
    # the guard is a parameter: a real image above the limit is refused before decoding
    _, dropped = op("image_decodable", max_pixels=w * h - 1).apply([rec("o", [crafted["orig"]])])
    assert dropped[0]["reason"].startswith("decompression bomb guard")


def test_min_side_default_64(crafted):
    kept, dropped = op("image_min_side").apply([rec("a", [crafted["orig"]]),
                                                rec("b", [crafted["tiny"]])])
    assert [r.id for r in kept] == ["a"]
    assert dropped[0]["reason"] == "image side 40 < 64"
    assert dropped[0]["statistic"]["width"] == 40


def test_phash_is_imagehash_phash(crafted):
    [r], _ = op("image_phash").apply([rec("a", [crafted["orig"]])])
    assert r.stats["image_phash"] == {"algorithm": "imagehash", "hash_size": 8,
                                      "hashes": [str(imagehash.phash(Image.open(crafted["orig"])))]}


def _decide(o, records, priority=None):
    entries = [{"id": r.id, "source": r.source, "dataset": r.dataset, "sig": s}
               for r, s in zip(records, o.signatures(records), strict=True)]
    return o.decide(entries, priority or {})


def test_exact_dedup_keeps_first_and_catches_reencoded_copy(crafted):
    o = op("image_dedup")
    recs = [rec(k, [crafted[k]]) for k in ("orig", "reencoded", "resized", "cropped", "other")]
    d = {k: imagehash.phash(Image.open(crafted[k])) - imagehash.phash(Image.open(crafted["orig"]))
         for k in ("reencoded", "resized", "cropped", "other")}
    drop = _decide(o, recs)
    expected_exact = {k for k, v in d.items() if v == 0}
    assert "reencoded" in expected_exact  # lossless re-encoding keeps the hash
    assert set(drop) == expected_exact
    assert drop["reencoded"]["statistic"]["matched"] == "orig"
    # near: threshold 10 also takes the resized and cropped copies, never the other image
    near = _decide(op("image_dedup", threshold=10), recs)
    assert set(near) == {k for k, v in d.items() if v <= 10}
    assert {"resized", "cropped"} <= set(near) and "other" not in near


def test_priority_and_scope(crafted):
    a = rec("low", [crafted["orig"]], source="web")
    b = rec("high", [crafted["reencoded"]], source="curated")
    drop = _decide(op("image_dedup"), [a, b], priority={"curated": 0, "web": 1})
    assert set(drop) == {"low"}  # the more reliable source's copy is kept
    c = rec("other-ds", [crafted["reencoded"]], source="web", dataset="ds2")
    assert set(_decide(op("image_dedup", scope="dataset"), [a, c])) == set()
    assert set(_decide(op("image_dedup", scope="global"), [a, c])) == {"other-ds"}
    # instruction data: same image, different question survives with with_text
    q1 = rec("q1", [crafted["orig"]], q="Which organ?")
    q2 = rec("q2", [crafted["orig"]], q="Is there a fracture?")
    q3 = rec("q3", [crafted["orig"]], q="which  organ?")
    assert set(_decide(op("image_dedup", with_text=True), [q1, q2, q3])) == {"q3"}


@pytest.mark.parametrize("t", [0, 3, 8])
def test_band_index_equals_brute_force(t):
    rng = random.Random(t)
    base = [rng.getrandbits(64) for _ in range(60)]
    hashes = []
    for h in base:  # clusters of near hashes
        hashes.append(h)
        for _ in range(3):
            flips = rng.sample(range(64), rng.randint(0, 10))
            hashes.append(h ^ sum(1 << f for f in flips))
    idx = HammingIndex(64, t)
    kept: list[int] = []
    for h in hashes:
        brute = min(((((k ^ h).bit_count()), i) for i, k in enumerate(kept)
                     if (k ^ h).bit_count() <= t), default=None)
        got = idx.query(h)
        assert (got is None) == (brute is None)
        if got is not None:
            assert got[1] == brute[0]
        else:
            idx.add(h)
            kept.append(h)


def test_real_bundled_images_have_no_false_exact_matches():
    paths = rad_images(120)
    o = op("image_dedup")
    recs = [rec(p.name, [p]) for p in paths]
    drop = _decide(o, recs)
    hashes = {p.name: str(imagehash.phash(Image.open(p))) for p in paths}
    firsts: dict[str, str] = {}
    expected = set()
    for name, h in hashes.items():
        if h in firsts:
            expected.add(name)
        firsts.setdefault(h, name)
    assert set(drop) == expected
