"""How to store a curation stage's shard files: size and write / read time per encoding.

Input: stage shard files as the runner wrote them before compact stage files (``{"records":
[...], "exclusions": [...]}``, indented JSON), e.g. ``.work/stage1-*/shard-*.json`` of a
``bench/curation_scale.py`` run; their records are repeated (each copy a distinct id) up
to ``--n`` records, cut into shards of ``--shard``. Each encoding writes every shard to
bytes and reads it back (one process, best of ``--repeat``); the read-back must equal the
JSON round trip (the records the next stage sees must not change).

    PYTHONPATH=src python bench/stage_encoding.py OUT/.work/stage1-*/shard-00000.json \\
        --n 100000 --shard 5000
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import msgpack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lingshu.data.curate.stage_files import decode_stage, encode_stage  # noqa: E402


def _json_indented(shard: dict) -> bytes:
    return (json.dumps(shard, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _msgpack_gz(shard: dict, level: int) -> bytes:
    return gzip.compress(msgpack.packb(shard, use_bin_type=True), level, mtime=0)


ENCODINGS = {
    "json indented (before)": (_json_indented, lambda b: json.loads(b)),
    "json compact": (lambda s: json.dumps(s, ensure_ascii=False, sort_keys=True,
                                          separators=(",", ":")).encode(), json.loads),
    "jsonl + gzip 1 (chosen)": (lambda s: encode_stage(s["records"], s["exclusions"]),
                                lambda b: dict(zip(("records", "exclusions"),
                                                   decode_stage(b), strict=True))),
    "jsonl + gzip 6": (lambda s: encode_stage(s["records"], s["exclusions"], level=6),
                       lambda b: dict(zip(("records", "exclusions"), decode_stage(b),
                                          strict=True))),
    "msgpack": (lambda s: msgpack.packb(s, use_bin_type=True),
                lambda b: msgpack.unpackb(b, raw=False)),
    "msgpack + gzip 1": (lambda s: _msgpack_gz(s, 1),
                         lambda b: msgpack.unpackb(gzip.decompress(b), raw=False)),
}


def shards(files: list[Path], n: int, size: int) -> list[dict]:
    recs, excl = [], []
    for f in files:
        d = json.loads(f.read_text())
        recs += d["records"]
        excl += d["exclusions"]
    ratio = len(excl) / max(1, len(recs))
    out, copy = [], 0
    rows: list[dict] = []
    while len(rows) < n:
        rows += [{**r, "id": f"{r['id']}~{copy}"} for r in recs]
        copy += 1
    rows = rows[:n]
    for i in range(0, n, size):
        k = int(ratio * size)
        out.append({"records": rows[i:i + size],
                    "exclusions": [{**e, "id": f"{e['id']}~{i}"} for e in excl[:k]]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--shard", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    data = shards(a.files, a.n, a.shard)
    for name, (enc, dec) in ENCODINGS.items():
        best_w = best_r = float("inf")
        for _ in range(a.repeat):
            t = time.perf_counter()
            blobs = [enc(s) for s in data]
            best_w = min(best_w, time.perf_counter() - t)
            t = time.perf_counter()
            back = [dec(b) for b in blobs]
            best_r = min(best_r, time.perf_counter() - t)
        assert back == data, name
        size = sum(len(b) for b in blobs)
        print(json.dumps({"encoding": name, "records": a.n, "mb": round(size / 2**20, 1),
                          "bytes_per_record": round(size / a.n), "write_s": round(best_w, 2),
                          "read_s": round(best_r, 2)}))


if __name__ == "__main__":
    main()
