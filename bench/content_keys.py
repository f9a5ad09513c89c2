"""What keying cached steps by content costs (issue 22, rerun identity).

Times, on the bundled benchmarks (data/benchmarks), the two things a rerun now hashes:
the response-cache keys of an image benchmark's prompts (each image's SHA-256, once per
benchmark run, against the former stat of its size) and a folder's fingerprint as
curation computes it for an input folder or a decontamination ``data_dir`` (every file's
SHA-256, against the former size and mtime). Best of 3, page cache warm.

    PYTHONPATH=src python bench/content_keys.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lingshu.core.hashing import FileDigests, path_fingerprint, sha256_obj
from lingshu.eval import get_benchmark, get_profile, prompt_identity

DATA = Path(__file__).resolve().parents[1] / "data" / "benchmarks"


def best(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def size_only(messages) -> None:
    """The former image identity: one stat per image part."""
    for m in messages:
        for mm in m:
            if isinstance(mm.get("content"), list):
                for p in mm["content"]:
                    if p.get("type") == "image":
                        os.stat(p["image"]).st_size


def by_content(messages) -> None:
    digests = FileDigests()
    for m in messages:
        prompt_identity(m, digests)


def stat_folder(path: Path) -> str:
    """The former folder fingerprint: relative path, size and mtime of every file."""
    return sha256_obj([[str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns]
                       for p in sorted(path.rglob("*")) if p.is_file()])


def main() -> None:
    profile = get_profile("medevalkit")
    for name, split in (("vqa-rad", "train"), ("slake", None)):
        samples = get_benchmark(name).load(DATA, split)
        messages = [profile.build_messages(s) for s in samples]
        images = {i for s in samples for i in s.images}
        mb = sum(os.path.getsize(i) for i in images) / 1e6
        print(f"eval keys, {name}: {len(samples)} samples, {len(images)} images, {mb:.1f} MB: "
              f"size {best(lambda: size_only(messages)):.0f} ms, "
              f"SHA-256 {best(lambda: by_content(messages)):.0f} ms")
    files = [p for p in DATA.rglob("*") if p.is_file()]
    mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"folder fingerprint, data/benchmarks ({mb:.1f} MB, {len(files)} files): "
          f"size+mtime {best(lambda: stat_folder(DATA)):.0f} ms, "
          f"SHA-256 {best(lambda: path_fingerprint(DATA)):.0f} ms")


if __name__ == "__main__":
    main()
