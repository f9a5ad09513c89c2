"""Score a PHI detector on the labelled corpus (``tests/golden/deid/corpus.jsonl``).

A gold span counts as found only when every letter and digit in it lies inside a detected
span (of any category): a half-removed name still identifies a person, and a span found
under the wrong category is still removed. Precision is per detected category: the share of
detected spans that touch a gold span. A PHI-free note is "changed" when anything in it is
detected. A "cut word" is a detected span edge with a letter or digit on both sides, which
is what turned "José García" into ``[NAME]é García``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lingshu.core.io import read_jsonl
from lingshu.data.curate.deid.spans import Span, cut_words

Detector = Callable[[str], list[Span]]


def load_corpus(path: str | Path, split: str | None = None) -> list[dict]:
    """The corpus rows, optionally of one split (``tune`` or ``heldout``)."""
    return [row for row in read_jsonl(Path(path)) if split is None or row.get("split") == split]


def _covered(text: str, start: int, end: int, found: list[Span]) -> bool:
    for i in range(start, end):
        if text[i].isalnum() and not any(s <= i < e for s, e, _ in found):
            return False
    return True


@dataclass
class Score:
    found: dict[str, int] = field(default_factory=dict)  # gold spans found, by category
    gold: dict[str, int] = field(default_factory=dict)
    tp_pred: dict[str, int] = field(default_factory=dict)  # detected spans touching gold
    pred: dict[str, int] = field(default_factory=dict)
    free_changed: int = 0
    free_notes: int = 0
    cut: int = 0
    missed: list[tuple[str, str, str]] = field(default_factory=list)  # (note, category, text)
    false_pos: list[tuple[str, str, str]] = field(default_factory=list)

    def recall(self, category: str | None = None) -> float:
        cats = [category] if category else list(self.gold)
        g = sum(self.gold.get(c, 0) for c in cats)
        return sum(self.found.get(c, 0) for c in cats) / g if g else float("nan")

    def precision(self, category: str | None = None) -> float:
        cats = [category] if category else list(self.pred)
        p = sum(self.pred.get(c, 0) for c in cats)
        return sum(self.tp_pred.get(c, 0) for c in cats) / p if p else float("nan")


def score(detect: Detector, rows: list[dict]) -> Score:
    out = Score()
    for row in rows:
        text, found = row["text"], detect(row["text"])
        out.cut += cut_words(text, found)
        if row["kind"] == "free":
            out.free_notes += 1
            out.free_changed += bool(found)
        for s, e, cat in found:
            hit = any(s < g["end"] and g["start"] < e for g in row["spans"])
            out.pred[cat] = out.pred.get(cat, 0) + 1
            out.tp_pred[cat] = out.tp_pred.get(cat, 0) + hit
            if not hit:
                out.false_pos.append((row["id"], cat, text[s:e]))
        for g in row["spans"]:
            cat = g["category"]
            ok = _covered(text, g["start"], g["end"], found)
            out.gold[cat] = out.gold.get(cat, 0) + 1
            out.found[cat] = out.found.get(cat, 0) + ok
            if not ok:
                out.missed.append((row["id"], cat, g["text"]))
    return out
