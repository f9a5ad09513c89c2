"""The alternatives a closed question offers, read from its wording.

"Which organ is abnormal, heart or lung?", "Is the mass heterogeneous or homogeneous in
appearance?", "Which type of modality is shown about this image, MRI, CT or X-Ray?",
"扫描的是图像的哪个平面,横断面还是冠状面?", "图中肺、心脏和肝脏哪个更大?" offer a closed set of
answers. A careful grader credits a short answer sentence that names the gold's alternative
and no other one ("The mass appears heterogeneous.", "On the right." for "Right side"); the
strict profile needs the set to know what "no other one" means.

English: the word on each side of " or " and the items of a comma list directly before it
(items of at most three words: "this image, MRI, CT or X-Ray" gives MRI, CT, X). Chinese:
the two sides of 还是 within their clause, and the items of "A、B和C哪个" (a leading 图中 /
在这个图像中 dropped). Each alternative is a tuple of ``answer_tokens``; a multi-word one
is cut to the word next to "or", which is the word that tells the alternatives apart ("the
left or the right side" gives left, right).
"""

from __future__ import annotations

import re
import unicodedata

from lingshu.eval.scoring.normalize import answer_tokens, clean, has_cjk

_EN_CLAUSE = re.compile(r"[?;:]|\.(?!\d)")
_ZH_CLAUSE = re.compile(r"[,，?？;；:：。]")
_ZH_WHICH = re.compile(r"(.+?)(?:哪个|哪一个|哪种|哪侧|谁)")
_ZH_LIST = re.compile(r"[、和与及]")
_MAX_ITEM_WORDS = 3  # a comma item longer than this is the question's own clause


def closed_candidates(question: str) -> list[tuple[str, ...]]:
    """The question's alternatives as token tuples (module docstring); empty when it
    offers none."""
    if has_cjk(question):  # NFKC only: ``clean`` would fold the list mark 、 into a comma
        found = _zh_candidates(unicodedata.normalize("NFKC", question).lower())
    else:
        found = _en_candidates(clean(question).lower())
    unique: list[tuple[str, ...]] = []
    for cand in found:
        if cand and cand not in unique:
            unique.append(cand)
    return unique if len(unique) >= 2 else []


def _en_candidates(text: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for clause in _EN_CLAUSE.split(text):
        if not re.search(r"\bor\b", clause):
            continue
        segments = clause.split(",")
        for i, seg in enumerate(segments):
            if not re.search(r"\bor\b", seg):
                continue
            left, right = re.split(r"\bor\b", seg, maxsplit=1)
            left_toks, right_toks = answer_tokens(left), answer_tokens(right)
            if left_toks:
                out.append((left_toks[-1],))
            if right_toks:
                out.append((right_toks[0],))
            for prev in reversed(segments[:i]):
                toks = answer_tokens(prev)
                if not toks or len(toks) > _MAX_ITEM_WORDS:
                    break
                out.append((toks[-1],))
    return out


def _zh_candidates(text: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for clause in _ZH_CLAUSE.split(text):
        if "还是" in clause:
            for side in clause.split("还是"):
                out.append(tuple(answer_tokens(side)))
            continue
        which = _ZH_WHICH.match(clause)
        if which and _ZH_LIST.search(which.group(1)):
            items = _ZH_LIST.split(which.group(1))
            items[0] = items[0].rsplit("中", 1)[-1]
            out.extend(tuple(answer_tokens(item)) for item in items)
    return out
