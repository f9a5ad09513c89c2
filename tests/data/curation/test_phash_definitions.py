"""The two pHash definitions: ``imagededup`` equals imagededup's own ``PHash`` bit for bit on
real images and generated variants (every PIL mode it converts, ties, tiny images);
ops that consume stored hashes refuse another definition, at recipe load and per record."""

from __future__ import annotations

import importlib.util
import random
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from curation_helpers import BENCH, RAD_IMAGES, SLAKE, op, write_recipe
from PIL import Image, ImageDraw, ImageOps

from lingshu.core.errors import UserError
from lingshu.data.curate import load_recipe
from lingshu.data.curate.ops.phash import phash_hex
from lingshu.data.curate.record import Record, conversation


def imagededup_phash():
    """imagededup's ``PHash`` (dev dependency) without ``imagededup.methods.__init__``,
    which imports its CNN (torchvision, weights download); skipped if not installed."""
    spec = importlib.util.find_spec("imagededup")
    if spec is None:
        pytest.skip("imagededup not installed (requirements/nodeps.txt)")
    if "imagededup.methods" not in sys.modules:
        pkg = types.ModuleType("imagededup.methods")
        pkg.__path__ = [str(Path(spec.submodule_search_locations[0]) / "methods")]
        sys.modules["imagededup.methods"] = pkg
    try:
        from imagededup.methods.hashing import PHash
    except ImportError as e:  # its own dependencies (PyWavelets, scikit-learn)
        pytest.skip(f"imagededup not importable: {e}")
    return PHash(verbose=False)


def _variants(src: Path, d: Path, tag: str) -> list[Path]:
    """The modes imagededup converts through RGBA -> RGB, plus geometric and tonal edits."""
    im = Image.open(src).convert("RGB")
    im.thumbnail((640, 640))  # the originals are hashed at full size; variants stay quick
    w, h = im.size
    grey = im.convert("L")
    alpha = Image.linear_gradient("L").resize(im.size)
    rgba = im.copy()
    rgba.putalpha(alpha)
    la = grey.copy()
    la.putalpha(alpha)
    out = {
        "L.png": grey, "L.jpg": grey, "LA.png": la, "RGBA.png": rgba,
        "P.png": im.quantize(64), "P.gif": im.convert("P"),
        "1.png": grey.convert("1"), "CMYK.jpg": im.convert("CMYK"),
        "I16.png": Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257),
        "flip.jpg": ImageOps.mirror(im), "half.jpg": im.resize((w // 2, h // 2)),
        "crop.png": im.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
        "tiny.png": im.resize((7, 5)), "q50.jpg": im,
    }
    paths = []
    for name, v in out.items():
        p = d / f"{tag}_{name}"
        v.save(p, **({"quality": 50} if name == "q50.jpg" else {}))
        paths.append(p)
    return paths


def _generated(d: Path) -> list[Path]:
    """Constant images (every AC coefficient 0: the median ties, ``>=`` vs ``>`` decides),
    checkerboards, 1x1 pixels, random shapes."""
    rng = random.Random(0)
    paths = []
    for i, (mode, colour) in enumerate([("L", 0), ("L", 255), ("L", 128), ("RGB", (10, 200, 30)),
                                        ("RGBA", (0, 0, 0, 0)), ("RGB", (255, 255, 255))]):
        for size in ((1, 1), (32, 32), (100, 60)):
            p = d / f"const{i}_{size[0]}.png"
            Image.new(mode, size, colour).save(p)
            paths.append(p)
    for cell in (1, 4, 8, 16):
        a = (np.indices((64, 64)) // cell).sum(0) % 2 * 255
        p = d / f"checker{cell}.png"
        Image.fromarray(a.astype(np.uint8)).save(p)
        paths.append(p)
    for i in range(40):
        im = Image.new("RGB", (rng.randint(20, 300), rng.randint(20, 300)),
                       tuple(rng.randint(0, 255) for _ in range(3)))
        dr = ImageDraw.Draw(im)
        for _ in range(rng.randint(1, 8)):
            x, y = rng.randint(0, im.width), rng.randint(0, im.height)
            box = [x, y, x + rng.randint(3, 80), y + rng.randint(3, 80)]
            dr.ellipse(box, fill=tuple(rng.randint(0, 255) for _ in range(3)))
        p = d / f"gen{i}.{'png' if i % 2 else 'jpg'}"
        im.save(p)
        paths.append(p)
    return paths


def _library_samples(d: Path) -> list[Path]:
    """scikit-image's sample files PIL reads (L, RGB, RGBA, GIF, TIFF) and pydicom's CT /
    MR samples written as 8-bit and 16-bit PNGs (the DICOM files themselves are not PIL's)."""
    paths = []
    skimage = pytest.importorskip("skimage")
    for f in sorted((Path(skimage.__file__).parent / "data").iterdir()):
        if f.suffix in (".png", ".jpg", ".gif", ".tif"):
            try:
                with Image.open(f) as im:
                    im.load()
            except OSError:  # multipage_rgb.tif: not a TIFF PIL reads
                continue
            paths.append(f)
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    for name in ("CT_small.dcm", "MR_small.dcm"):
        a = pydicom.dcmread(get_testdata_file(name)).pixel_array.astype(np.float64)
        a = (a - a.min()) / max(a.max() - a.min(), 1)
        for bits, dtype in ((8, np.uint8), (16, np.uint16)):
            p = d / f"{name[:-4]}_{bits}.png"
            Image.fromarray((a * (2**bits - 1)).astype(dtype)).save(p)
            paths.append(p)
    return paths


def test_imagededup_definition_equals_imagededup_phash(tmp_path):
    ref = imagededup_phash()
    real = sorted(RAD_IMAGES.glob("*.jpg")) + sorted((SLAKE / "imgs").glob("*/source.jpg"))
    assert len(real) >= 300
    paths = list(real) + _library_samples(tmp_path) + _generated(tmp_path)
    for i, src in enumerate(real[:: len(real) // 12][:12]):
        paths += _variants(src, tmp_path, f"v{i}")
    ours = {str(p): phash_hex(str(p), 8, "imagededup") for p in paths}
    theirs = {str(p): ref.encode_image(image_file=str(p)) for p in paths}
    skipped = sorted(p for p, h in theirs.items() if h is None)  # formats outside its list
    assert len(skipped) <= 2, skipped
    diff = [(p, ours[p], theirs[p]) for p in ours if theirs[p] is not None and ours[p] != theirs[p]]
    assert not diff, f"{len(diff)} of {len(paths)} differ, e.g. {diff[:3]}"
    assert len(paths) - len(skipped) >= 500
    # the default definition is another one: some real images get other hashes
    assert sum(phash_hex(str(p)) != ours[str(p)] for p in real[:60]) > 0


def rec(rid, paths, **stats):
    return Record(id=rid, source="s", dataset="s",
                  messages=conversation("Describe.", "x", [str(p) for p in paths]), stats=stats)


def test_dedup_with_imagededup_definition_groups_like_imagededup(tmp_path):
    ref = imagededup_phash()
    real = sorted(RAD_IMAGES.glob("*.jpg"))[:6]
    paths = list(real) + _variants(real[0], tmp_path, "a") + _variants(real[1], tmp_path, "b")
    recs = [rec(p.name, [p]) for p in paths]
    # image_phash stores the definition with the hashes; dedup reuses them
    recs, _ = op("image_phash", algorithm="imagededup").apply(recs)
    assert recs[0].stats["image_phash"]["algorithm"] == "imagededup"
    dedup = op("image_dedup", algorithm="imagededup")
    entries = [{"id": r.id, "source": "s", "dataset": "s", "sig": s}
               for r, s in zip(recs, dedup.signatures(recs), strict=True)]
    drop = dedup.decide(entries, {})
    # reference: imagededup's hashes; a file is dropped iff an earlier file has its hash
    seen, expected = set(), set()
    for p in paths:
        h = ref.encode_image(image_file=str(p))
        if h in seen:
            expected.add(p.name)
        seen.add(h)
    assert set(drop) == expected and expected


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([{"op": "image_phash", "algorithm": "imagededup"}, {"op": "image_dedup"}],
         "op #2 (image_dedup): parameter algorithm='imagehash' differs from op #1 "
         "(image_phash) algorithm='imagededup'"),
        ([{"op": "image_phash"}, {"op": "decontaminate", "image_algorithm": "imagededup"}],
         "op #2 (decontaminate): parameter image_algorithm='imagededup' differs from op #1"),
        ([{"op": "image_phash", "hash_size": 16}, {"op": "image_dedup"}],
         "op #2 (image_dedup): parameter hash_size=8 differs from op #1 (image_phash) "
         "hash_size=16"),
        ([{"op": "image_phash", "algorithm": "imagededup", "hash_size": 12}],
         "op #1 (image_phash): parameter algorithm: Value error, imagededup is defined for "
         "hash_size 8 only"),
        ([{"op": "image_dedup", "algorithm": "imagededupe"}], "op #1 (image_dedup): parameter "
         "algorithm: Input should be 'imagehash' or 'imagededup'"),
    ],
)
def test_mixed_definitions_fail_at_load(tmp_path, ops, message):
    (tmp_path / "a.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    recipe = write_recipe(tmp_path / "r.yaml", [{"name": "a", "path": "a.jsonl"}], ops)
    with pytest.raises(UserError) as e:
        load_recipe(recipe)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_same_definition_loads_and_stale_stats_fail_per_record(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    ok = [{"op": "image_phash", "algorithm": "imagededup"},
          {"op": "image_dedup", "algorithm": "imagededup"},
          {"op": "decontaminate", "image_algorithm": "imagededup"}]
    load_recipe(write_recipe(tmp_path / "r.yaml", [{"name": "a", "path": "a.jsonl"}], ok))
    img = sorted(RAD_IMAGES.glob("*.jpg"))[0]
    stale = rec("r1", [img], image_phash={"algorithm": "imagehash", "hash_size": 8,
                                          "hashes": [phash_hex(str(img))]})
    with pytest.raises(UserError, match=r"image_dedup: parameter algorithm='imagededup' .*"
                       r"record r1 holds image_phash hashes with algorithm='imagehash'"):
        op("image_dedup", algorithm="imagededup").signature(stale)


def test_decontaminate_with_imagededup_definition(tmp_path):
    from lingshu.eval.benchmarks import get_benchmark

    img = get_benchmark("vqa-rad").load(BENCH, "train")[0].images[0]
    Image.open(img).convert("RGB").save(tmp_path / "copy.png")  # lossless: same hash
    o = op("decontaminate", data_dir=str(BENCH), benchmarks=["vqa-rad"],
           splits={"vqa-rad": ["train"]}, image_algorithm="imagededup")
    h = phash_hex(str(tmp_path / "copy.png"), 8, "imagededup")
    plain = rec("plain", [tmp_path / "copy.png"])
    stored = rec("stored", [tmp_path / "copy.png"],
                 image_phash={"algorithm": "imagededup", "hash_size": 8, "hashes": [h]})
    _, dropped = o.apply([plain, stored])
    assert [d["id"] for d in dropped] == ["plain", "stored"]
    assert all(d["statistic"]["kind"] == "image" for d in dropped)
    # stored hashes are what it compares: a stored hash of nothing in the benchmark passes
    fake = rec("fake", [tmp_path / "copy.png"], image_phash={
        "algorithm": "imagededup", "hash_size": 8, "hashes": [f"{int(h, 16) ^ (2**64 - 1):016x}"]})
    kept, _ = o.apply([fake])
    assert [r.id for r in kept] == ["fake"]
