"""pHash image dedup at Hamming distance 0: lingshu's path vs imagededup 0.3.3, same files.

Data (built once under --work): the 355 bundled real images (VQA-RAD 315, SLAKE 40) and
variants of each (byte copy, lossless PNG re-encode, JPEG q75 re-encode, 50% and 75%
resizes, 2% and 5% crops, horizontal flip, +10% brightness), plus procedurally generated
distinct images (random ellipses and lines) each with one copy (byte copy, re-encode or
resize), to at least --n images in total.

Ours, timed twice: the ``image_phash`` op's hash per file in a process pool, then the
``image_dedup`` op's decision (hash-band index, no all-pairs search), once with the
default ``algorithm: imagehash`` (``imagehash.phash``) and once with ``algorithm:
imagededup`` (our reimplementation of imagededup's pHash definition). Baseline:
``imagededup.methods.PHash.encode_images`` with the same number of workers, then
``find_duplicates(max_distance_threshold=0)`` (its default brute-force Cython search).
All three are timed end to end from file paths to duplicate groups, and the ratio is
imagededup's time over ours. Duplicate groups at distance 0 are compared: with
``algorithm: imagededup`` they must be identical to imagededup's (the script exits
non-zero otherwise); with the default they differ, and the differences are listed with
the variant kind and both hashes (the two definitions resize before / after grey
conversion and threshold differently, so some near variants fall on either side of
distance 0).

    PYTHONPATH=src python bench/dedup_images.py [--n 20000] [--workers 2] [--with-search]

``--with-search`` then times the two searches alone on the same hashes (ours).
imagededup is a test-only dependency (requirements/dev.txt; install it with --no-deps:
its ``methods`` package imports a CNN that downloads weights at import time, so this
script loads only its hashing module).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
import types
from collections import defaultdict
from functools import partial
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def real_images() -> list[Path]:
    b = ROOT / "data" / "benchmarks"
    return sorted((b / "vqa-rad" / "VQA_RAD Image Folder").glob("*.jpg")) + \
        sorted((b / "slake" / "imgs").glob("*/source.jpg"))


def build(work: Path, n: int) -> dict[str, str]:
    """Write the image set; returns file name -> kind. Deterministic (seeded)."""
    from PIL import Image, ImageDraw, ImageEnhance, ImageOps

    manifest = work / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if len(m) >= n:
            return m
    img_dir = work / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = {}
    for i, src in enumerate(real_images()):
        base = f"real{i:04d}"
        (img_dir / f"{base}.jpg").write_bytes(src.read_bytes())
        kinds[f"{base}.jpg"] = "real"
        (img_dir / f"{base}_copy.jpg").write_bytes(src.read_bytes())
        kinds[f"{base}_copy.jpg"] = "byte copy"
        im = Image.open(src).convert("RGB")
        w, h = im.size
        variants = {
            "png": (im, "png re-encode"),
            "q75": (im, "jpeg q75"),
            "half": (im.resize((w // 2, h // 2)), "resize 50%"),
            "threeq": (im.resize((w * 3 // 4, h * 3 // 4)), "resize 75%"),
            "crop2": (im.crop((w // 50, h // 50, w - w // 50, h - h // 50)), "crop 2%"),
            "crop5": (im.crop((w // 20, h // 20, w - w // 20, h - h // 20)), "crop 5%"),
            "flip": (ImageOps.mirror(im), "flip"),
            "bright": (ImageEnhance.Brightness(im).enhance(1.1), "brightness +10%"),
        }
        for tag, (v, kind) in variants.items():
            name = f"{base}_{tag}." + ("png" if tag == "png" else "jpg")
            v.save(img_dir / name, quality=75 if tag == "q75" else 90)
            kinds[name] = kind
    rng = random.Random(0)
    g = 0
    while len(kinds) < n:
        im = Image.new("RGB", (160, 160), tuple(rng.randint(0, 80) for _ in range(3)))
        d = ImageDraw.Draw(im)
        for _ in range(rng.randint(3, 9)):
            x0, y0 = rng.randint(0, 120), rng.randint(0, 120)
            box = [x0, y0, x0 + rng.randint(10, 60), y0 + rng.randint(10, 60)]
            colour = tuple(rng.randint(0, 255) for _ in range(3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=colour)
        for _ in range(rng.randint(0, 4)):
            d.line([rng.randint(0, 160) for _ in range(4)], fill=(255, 255, 255), width=2)
        name = f"gen{g:05d}.jpg"
        im.save(img_dir / name, quality=90)
        kinds[name] = "generated"
        kind = ("byte copy", "png re-encode", "resize 75%")[g % 3]
        cname = f"gen{g:05d}_v.{'png' if kind == 'png re-encode' else 'jpg'}"
        if kind == "byte copy":
            (img_dir / cname).write_bytes((img_dir / name).read_bytes())
        elif kind == "png re-encode":
            Image.open(img_dir / name).save(img_dir / cname)
        else:
            Image.open(img_dir / name).resize((120, 120)).save(img_dir / cname, quality=90)
        kinds[cname] = f"generated {kind}"
        g += 1
    manifest.write_text(json.dumps(kinds))
    return kinds


HASH_SECONDS: dict[str, float] = {}  # of each timed path, the part spent hashing files


def _hash(algorithm: str, path: str) -> str:
    from lingshu.data.curate.ops.phash import phash_hex

    return phash_hex(path, 8, algorithm)


def ours(files: list[Path], workers: int, algorithm: str = "imagehash",
         ) -> tuple[list[frozenset[str]], dict[str, str], int]:
    from lingshu.data.curate.ops.image_dedup import ImageDedup

    paths = [str(p) for p in files]
    fn = partial(_hash, algorithm)
    t = time.perf_counter()
    if workers > 1:
        with Pool(workers) as pool:
            hashes = pool.map(fn, paths, chunksize=64)
    else:
        hashes = [fn(p) for p in paths]
    HASH_SECONDS[algorithm] = time.perf_counter() - t
    op = ImageDedup(ImageDedup.Params(threshold=0, algorithm=algorithm))
    entries = [{"id": p.name, "source": "s", "dataset": "s", "sig": {"h": [h], "t": ""}}
               for p, h in zip(files, hashes, strict=True)]
    drop = op.decide(entries, {})
    groups: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        d = drop.get(e["id"])
        groups[d["statistic"]["matched"] if d else e["id"]].add(e["id"])
    return ([frozenset(g) for g in groups.values() if len(g) > 1],
            dict(zip((p.name for p in files), hashes, strict=True)), len(drop))


def load_imagededup_phash():
    spec = importlib.util.find_spec("imagededup")
    if spec is None:
        raise SystemExit("imagededup is not installed: pip install imagededup==0.3.3 --no-deps "
                         "scikit-learn==1.9.1 PyWavelets")
    pkg = types.ModuleType("imagededup.methods")  # skip methods/__init__ (CNN download)
    pkg.__path__ = [str(Path(spec.submodule_search_locations[0]) / "methods")]
    sys.modules["imagededup.methods"] = pkg
    from imagededup.methods.hashing import PHash

    return PHash


def baseline(img_dir: Path, workers: int):
    phash = load_imagededup_phash()(verbose=False)
    t = time.perf_counter()
    enc = phash.encode_images(image_dir=str(img_dir), num_enc_workers=workers)
    HASH_SECONDS["baseline"] = time.perf_counter() - t
    dups = phash.find_duplicates(encoding_map=enc, max_distance_threshold=0)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, bs in dups.items():
        for b in bs:
            parent[find(a)] = find(b)
    groups: dict[str, set[str]] = defaultdict(set)
    for a in dups:
        groups[find(a)].add(a)
    return [frozenset(g) for g in groups.values() if len(g) > 1], enc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lingshu-bench-dedup-images"))
    ap.add_argument("--search-only", action="store_true",
                    help="skip imagededup's encoding; compare the searches on our hashes")
    ap.add_argument("--with-search", action="store_true",
                    help="after the end-to-end run, also time the searches alone")
    args = ap.parse_args()
    t = time.perf_counter()
    kinds = build(args.work, args.n)
    files = sorted((args.work / "images").iterdir())
    print(f"{len(files)} images ({sum(k == 'real' for k in kinds.values())} real originals); "
          f"built in {time.perf_counter() - t:.1f} s")

    if args.search_only:
        _, o_hash, _ = ours(files, args.workers)
        search_only(o_hash)
        return
    print(f"load average before: {_load()}")
    t = time.perf_counter()
    b_groups, b_hash = baseline(args.work / "images", args.workers)
    tb = time.perf_counter() - t
    t = time.perf_counter()
    o_groups, o_hash, o_removed = ours(files, args.workers)
    to = time.perf_counter() - t
    t = time.perf_counter()
    c_groups, c_hash, c_removed = ours(files, args.workers, "imagededup")
    tc = time.perf_counter() - t

    n = len(files)
    print(f"imagededup:                    {tb:7.2f} s ({n / tb:4.0f} images/s), "
          f"{len(b_groups)} duplicate groups; hashing {HASH_SECONDS['baseline']:.1f} s, "
          f"search {tb - HASH_SECONDS['baseline']:.1f} s")
    print(f"lingshu (algorithm imagehash): {to:7.2f} s ({n / to:4.0f} images/s), "
          f"{len(o_groups)} duplicate groups, {o_removed} removed; "
          f"hashing {HASH_SECONDS['imagehash']:.1f} s")
    print(f"lingshu (algorithm imagededup):{tc:7.2f} s ({n / tc:4.0f} images/s), "
          f"{len(c_groups)} duplicate groups, {c_removed} removed; "
          f"hashing {HASH_SECONDS['imagededup']:.1f} s")
    print(f"ratio vs imagededup: {tb / to:.2f}x (default algorithm), "
          f"{tb / tc:.2f}x (algorithm imagededup)")
    same_c = set(c_groups) == set(b_groups)
    same_hash = sum(c_hash[f] == b_hash.get(f) for f in c_hash)
    print(f"algorithm imagededup vs imagededup: duplicate groups "
          f"{'IDENTICAL' if same_c else 'DIFFERENT'} ({len(c_groups)} vs {len(b_groups)}); "
          f"hashes equal for {same_hash}/{n} files")
    same = set(o_groups) == set(b_groups)
    print(f"algorithm imagehash vs imagededup: duplicate groups "
          f"{'identical' if same else 'differ'}")
    if not same:
        only_o = set(o_groups) - set(b_groups)
        only_b = set(b_groups) - set(o_groups)
        by_kind: dict[str, int] = defaultdict(int)
        for g in list(only_o) + list(only_b):
            for f in g:
                by_kind[kinds.get(f, "?")] += 1
        print(f"  groups only in lingshu: {len(only_o)}, only in imagededup: {len(only_b)}; "
              f"files involved by kind: {dict(by_kind)}")
        print("  why: the two pHash definitions differ (imagehash: grey, then resize, bit = "
              "coefficient > median of all 64; imagededup: resize RGB, then grey, bit = "
              "coefficient >= median of the 63 without DC), so near variants whose hashes "
              "are a bit or two apart fall on either side of distance 0")
        for g in list(only_o)[:3] + list(only_b)[:3]:
            print("  ", sorted((f, kinds.get(f), o_hash[f], b_hash.get(f)) for f in g))
    exact = [g for g in o_groups if all(kinds[f] in ("real", "generated", "byte copy",
                                                     "png re-encode", "generated byte copy",
                                                     "generated png re-encode") for f in g)]
    print(f"  groups made only of identical-pixel copies: {len(exact)} "
          f"(in imagededup's too: {sum(g in set(b_groups) for g in exact)})")
    print(f"load average after: {_load()}")
    if not same_c:
        raise SystemExit("algorithm imagededup: duplicate groups differ from imagededup's")
    if args.with_search:
        search_only(o_hash)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def search_only(o_hash: dict[str, str]) -> None:
    """The searches alone, on the same hashes (ours): identical duplicate files expected."""
    from lingshu.data.curate.ops.image_dedup import ImageDedup

    phash = load_imagededup_phash()(verbose=False)
    t = time.perf_counter()
    same_hash_dups = phash.find_duplicates(encoding_map=o_hash, max_distance_threshold=0)
    tbs = time.perf_counter() - t
    t = time.perf_counter()
    op = ImageDedup(ImageDedup.Params(threshold=0))
    entries = [{"id": f, "source": "s", "dataset": "s", "sig": {"h": [h], "t": ""}}
               for f, h in o_hash.items()]
    drop = op.decide(entries, {})
    tos = time.perf_counter() - t
    b_dup_files = {f for f, d in same_hash_dups.items() if d}
    o_dup_files = set(drop) | {d["statistic"]["matched"] for d in drop.values()}
    print(f"search only, same hashes: imagededup {tbs:.3f} s, lingshu {tos:.3f} s "
          f"({tbs / max(tos, 1e-9):.1f}x); files in a duplicate group identical: "
          f"{b_dup_files == o_dup_files} ({len(o_dup_files)} files)")


if __name__ == "__main__":
    main()
