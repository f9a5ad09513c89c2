"""Span arithmetic shared by the detectors and the op: merge, snap to words, replace.

Why snapping: a detector that ends a span inside a word leaves part of an identifier
behind and damages the text ("José García" once became ``[NAME]é García`` because an ASCII
pattern stopped at "é"). Every span is widened to whole words before anything is replaced.
Characters of scripts written without spaces (Chinese, Japanese, Korean) do not form
"words" here: a Chinese name is followed directly by other characters, and Korean attaches
particles to the name ("김민준님은"), so those spans keep their own edges.
"""

from __future__ import annotations

Span = tuple[int, int, str]

# Unified CJK ideographs (+ extension A, compatibility), kana, Hangul syllables and jamo.
_NO_SPACE_SCRIPTS = (
    ("\u3040", "\u30ff"), ("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"),
    ("\uac00", "\ud7af"), ("\u1100", "\u11ff"), ("\uf900", "\ufaff"),
)


def is_cjk(ch: str) -> bool:
    return any(lo <= ch <= hi for lo, hi in _NO_SPACE_SCRIPTS)


def word_char(ch: str) -> bool:
    """A letter or digit of a space-separated script (where cutting it splits a word)."""
    return ch.isalnum() and not is_cjk(ch)


def cut_words(text: str, spans: list[Span]) -> int:
    """How many span edges fall inside a word (0 after ``snap``)."""
    n = 0
    for s, e, _ in spans:
        if 0 < s < len(text) and word_char(text[s - 1]) and word_char(text[s]):
            n += 1
        if 0 < e < len(text) and word_char(text[e - 1]) and word_char(text[e]):
            n += 1
    return n


def snap(text: str, spans: list[Span]) -> list[Span]:
    """Widen each span to whole words (never cut a word in half)."""
    out = []
    for s, e, cat in spans:
        while 0 < s < len(text) and word_char(text[s - 1]) and word_char(text[s]):
            s -= 1
        while 0 < e < len(text) and word_char(text[e - 1]) and word_char(text[e]):
            e += 1
        out.append((s, e, cat))
    return out


def merge(spans: list[Span], priority: tuple[str, ...]) -> list[Span]:
    """Union of overlapping or touching spans; the merged span takes the category that
    covers most of it (ties: the earlier one in ``priority``)."""
    merged: list[tuple[int, int, dict[str, int]]] = []
    for s, e, cat in sorted(spans):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            ms, me, cover = merged[-1]
            cover[cat] = cover.get(cat, 0) + (e - s)
            merged[-1] = (ms, max(me, e), cover)
        else:
            merged.append((s, e, {cat: e - s}))
    rank = {c: i for i, c in enumerate(priority)}
    return [(s, e, max(cover, key=lambda c: (cover[c], -rank.get(c, len(rank)))))
            for s, e, cover in merged]


def replace(text: str, spans: list[Span], template: str = "[{category}]") -> str:
    """``text`` with each (non-overlapping, sorted) span replaced by the template."""
    out, last = [], 0
    for s, e, cat in spans:
        out.append(text[last:s])
        out.append(template.format(category=cat))
        last = e
    out.append(text[last:])
    return "".join(out)
