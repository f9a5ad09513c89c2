"""docs/architecture.md names real places: every path it mentions exists, and every room of
the package is described."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _paths() -> list[str]:
    found = set(re.findall(r"`((?:src|docs|tests)/[^`\s]+)`", DOC))
    # room-relative module names in the table: `config.py` under the row's room
    for row in DOC.splitlines():
        m = re.match(r"\| `(src/lingshu/[a-z]+/)` \|", row)
        if m:
            for rel in re.findall(r"`([a-z_/]+(?:\.py|/))`", row.split("|")[2]):
                found.add(m.group(1) + rel)
    return sorted(found)


def test_every_named_path_exists():
    paths = _paths()
    assert len(paths) > 40  # the check reads the table, not nothing
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_room_is_described():
    rooms = sorted(p.name for p in (ROOT / "src" / "lingshu").iterdir()
                   if p.is_dir() and (p / "__init__.py").exists())
    undescribed = [r for r in rooms if f"`src/lingshu/{r}/`" not in DOC]
    assert not undescribed, f"rooms missing from docs/architecture.md: {undescribed}"
