"""The record files of a run's steps (``read-<h>/`` and ``stage<k>-<h>/``): one per shard.

Why this encoding: the records of every step were indented JSON, about 8.5x the input
for the text recipe at 100K records (issue 20). A shard is now gzip-compressed JSON
lines (``shard-00000.jsonl.gz``): a header line with the counts, one line per record, one
per exclusion. The lines are the same JSON as before (keys sorted, non-ASCII kept), so
what a step reads back is exactly what the indented file gave: the records the next op
sees, and so the outputs, do not change. Level 1 because it is the fastest and the
higher levels save little on this text (``bench/stage_encoding.py`` measures it against
level 6 and msgpack, in docs/performance.md). The gzip header carries no time, so the
same shard gives the same bytes; ``zcat`` shows a file.

Lines are split on ``\\n`` only: JSON escapes it inside strings, while other line
separators (U+2028, ``\\x1c``) may stand raw in ``ensure_ascii=False`` text.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from lingshu.core.io import atomic_write_bytes, atomic_write_text

FORMAT = "jsonl.gz-1"
"""Part of the read step's cache key: a new encoding gets new step folders, so files in
an older one are never misread."""

SUFFIX = ".jsonl.gz"

LEVEL = 1
"""gzip level (measured: docs/performance.md, compact stage files)."""


def shard_name(i: int) -> str:
    """Shard ``i``'s name, the stem of every file a step keeps per shard (records,
    signatures, decisions, keys)."""
    return f"shard-{i:05d}"


def stage_file(folder: Path, i: int) -> Path:
    """Shard ``i``'s record file in a step's ``folder``."""
    return Path(folder) / f"{shard_name(i)}{SUFFIX}"


def shard_index(path: Path | str) -> int:
    """``i`` of ``.../shard-0000i.jsonl.gz`` (or of any ``shard-0000i.*`` file)."""
    return int(Path(path).name.removeprefix("shard-").split(".")[0])


def _line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def write_json(path: Path, obj: Any) -> None:
    """A step's JSON file under ``.work`` (decisions, renames, a shard's exclusions and
    counts, completion markers): one compact line, written atomically. Only the run reads
    these, so the indentation of the published files (``core.io.json_text``) would only
    make them larger; ``json.loads`` reads either."""
    atomic_write_text(path, _line(obj))


def encode_stage(records: list[dict], exclusions: list[dict], level: int = LEVEL) -> bytes:
    """A shard's records and exclusions as the bytes of its file."""
    head = _line({"exclusions": len(exclusions), "format": FORMAT, "records": len(records)})
    text = head + "".join(map(_line, records)) + "".join(map(_line, exclusions))
    return gzip.compress(text.encode("utf-8"), compresslevel=level, mtime=0)


def decode_stage(data: bytes) -> tuple[list[dict], list[dict]]:
    """(records, exclusions) of a shard file's bytes."""
    lines = gzip.decompress(data).split(b"\n")
    head = json.loads(lines[0])
    n = head["records"]
    rows = json.loads(b"[" + b",".join(lines[1:1 + n + head["exclusions"]]) + b"]")
    return rows[:n], rows[n:]


def write_stage(path: Path, records: list[dict], exclusions: list[dict]) -> None:
    """Written atomically: a file that exists is complete (resume skips it)."""
    atomic_write_bytes(path, encode_stage(records, exclusions))


def read_stage(path: Path) -> tuple[list[dict], list[dict]]:
    return decode_stage(Path(path).read_bytes())
