"""Build ``corpus.jsonl`` from the two marked-up source files beside it.

The notes are written as text with ``[[CATEGORY:text]]`` marks so that a person can read and
edit them; this turns each note into its plain text plus character spans (Python string
offsets, so a Chinese character counts as one). Run it after editing a source file:
``python tests/golden/deid/build_corpus.py``.

Split: a note whose number ends in 3, 6 or 9 is ``heldout`` (30%), used only by the tests and
never for tuning; the rest are ``tune``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = re.compile(r"\[\[([A-Z]+):(.+?)\]\]")
CATEGORIES = {"NAME", "DATE", "AGE", "PHONE", "EMAIL", "ADDRESS", "ID"}


def parse_note(marked: str) -> tuple[str, list[dict]]:
    text, spans, pos = [], [], 0
    length = 0
    for m in MARK.finditer(marked):
        before = marked[pos : m.start()]
        text.append(before)
        length += len(before)
        category, phi = m.group(1), m.group(2)
        if category not in CATEGORIES:
            raise SystemExit(f"unknown category {category!r} in: {marked[:60]}")
        spans.append({"start": length, "end": length + len(phi), "category": category})
        text.append(phi)
        length += len(phi)
        pos = m.end()
    text.append(marked[pos:])
    return "".join(text), spans


def read_notes(path: Path, kind: str) -> list[dict]:
    notes, current = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("@ "):
            current = {"id": line[2:].strip(), "lines": []}
            notes.append(current)
        elif current is not None and line.strip():
            current["lines"].append(line)
    out = []
    for note in notes:
        text, spans = parse_note("\n".join(note["lines"]))
        if kind == "free" and spans:
            raise SystemExit(f"{note['id']}: a PHI-free note has marks")
        split = "heldout" if note["id"][-1] in "369" else "tune"
        for s in spans:
            s["text"] = text[s["start"] : s["end"]]
        out.append({"id": note["id"], "kind": kind, "split": split, "text": text, "spans": spans})
    return out


def main() -> None:
    rows = read_notes(HERE / "notes_phi.txt", "phi") + read_notes(HERE / "notes_free.txt", "free")
    with open(HERE / "corpus.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    n_spans = sum(len(r["spans"]) for r in rows)
    print(f"{len(rows)} notes, {n_spans} PHI spans -> {HERE / 'corpus.jsonl'}")


if __name__ == "__main__":
    main()
