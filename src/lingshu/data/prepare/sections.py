"""Split a free-text radiology report into its sections (FINDINGS, IMPRESSION, ...).

Report-generation benchmarks compare a model's report with the reference FINDINGS and
IMPRESSION of each study, so these two sections must be cut out of the report text the same
way every time. MIMIC-CXR ships free text only; CheXpert Plus ships its own section columns
(we fall back to this parser when they are empty); IU-Xray's XML is already sectioned.

Rules (docs/report-benchmarks.md repeats them for users):

1. A *header* is a section name followed by a colon at the start of a line (leading spaces
   and tabs allowed; spaces before the colon allowed): ``IMPRESSION: ...``, ``  Findings :``.
   The text after the colon on the same line belongs to the section.
2. A *known* name is recognised in any case (``findings:``, ``Findings:``, ``FINDINGS:``).
   Known names, with the typos and variants that occur in MIMIC-CXR (the variants listed in
   the MIMIC-CXR authors' ``section_parser.py``): FINDINGS (finding, findngs, ...),
   IMPRESSION (impressions, conclusion(s), typos), and the sections that end them
   (EXAMINATION, INDICATION, HISTORY, TECHNIQUE, COMPARISON, NOTIFICATION,
   RECOMMENDATION(S), ADDENDUM, WET READ, ...). ``FINDINGS AND IMPRESSION:`` and
   ``FINDINGS/IMPRESSION:`` count as IMPRESSION, as in that parser.
3. Any other ALL-CAPS name (letters, spaces, ``()/&,-``; at most 6 words) followed by a colon
   at the start of a line is also a header: it ends the current section (this is how the
   MIMIC-CXR parser finds headers). A lower-case unknown name (``Lungs: clear.``) is text.
4. A known name alone on its line without a colon (``FINDINGS``, ``FINAL REPORT``) is a header.
5. Inside a line, FINDINGS / IMPRESSION / CONCLUSION start a section when written in upper
   case or title case after a space (``... views. IMPRESSION: ...``, ``Findings: x Impression:
   y``) or in any case after a sentence end (``... clear. impression: ...``). A lower-case
   name mid-sentence (``my impression: ...``) is text.
6. Text before the first header is the ``preamble``; ``FINAL REPORT`` starts it too.
7. A section that occurs twice (an addendum repeating IMPRESSION) is joined in order with
   one space. Whitespace inside a section (line breaks, indentation) collapses to single
   spaces; case and punctuation are kept. A header with no text gives an empty section.
8. There is no guessing: a report without a FINDINGS header has no findings (its text stays
   in the preamble), and the preparers decide what to do with such studies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Normalised (lower case, single spaces) header name -> canonical section.
_FINDINGS_NAMES = (
    "findings", "finding", "findngs", "findins", "findnings", "finidngs", "findgings",
    "findindgs", "reference findings",
)  # fmt: skip
_IMPRESSION_NAMES = (
    "impression", "impressions", "conclusion", "conclusions", "findings and impression",
    "findings/impression", "findings / impression", "findings/ impression",
    "impresson", "imprression", "imoression", "impressoin", "imprssion", "impresion",
    "imperssion", "mpression", "impession",
)  # fmt: skip
_OTHER_NAMES = {
    "final report": "preamble",
    "examination": "examination", "exam": "examination", "type of examination": "examination",
    "procedure": "examination",
    "indication": "indication", "indications": "indication", "clinical indication": "indication",
    "reason for examination": "indication", "reason for exam": "indication",
    "idication": "indication",
    "history": "history", "clinical history": "history", "clinical information": "history",
    "patient history": "history", "pfi": "history",
    "comparison": "comparison", "comparisons": "comparison", "comparison exam": "comparison",
    "comparison film": "comparison", "reference exam": "comparison", "comparision": "comparison",
    "comparsion": "comparison", "comparrison": "comparison", "comparisions": "comparison",
    "technique": "technique",
    "notification": "notification",
    "recommendation": "recommendations", "recommendations": "recommendations",
    "recommendation(s)": "recommendations",
    "addendum": "addendum",
    "wet read": "wet_read", "wetread": "wet_read",
    "comment": "comment", "comments": "comment",
    "summary": "summary",
}  # fmt: skip
KNOWN_HEADERS: dict[str, str] = {
    **{n: "findings" for n in _FINDINGS_NAMES},
    **{n: "impression" for n in _IMPRESSION_NAMES},
    **_OTHER_NAMES,
}

_NAME = r"[A-Za-z][A-Za-z ()/&,\-]*?"
_LINE_HEADER = re.compile(rf"^[ \t]*(?P<name>{_NAME})[ \t]*:", re.MULTILINE)
_BARE_HEADER = re.compile(rf"^[ \t]*(?P<name>{_NAME})[ \t]*$", re.MULTILINE)
_INLINE_NAMES = r"findings|finding|impressions?|conclusions?"
_INLINE_CASED = re.compile(
    r"(?<=\S)[ \t]+(?P<name>FINDINGS?|Findings?|IMPRESSIONS?|Impressions?|CONCLUSIONS?"
    r"|Conclusions?)[ \t]*:"
)
_INLINE_AFTER_SENTENCE = re.compile(
    rf"(?<=[.;!?])[ \t]+(?P<name>{_INLINE_NAMES})[ \t]*:", re.IGNORECASE
)
_MAX_HEADER_WORDS = 6
_MAX_HEADER_CHARS = 40


@dataclass(frozen=True)
class ReportSections:
    """The sections of one report; ``findings`` / ``impression`` are "" when absent."""

    findings: str
    impression: str
    other: dict[str, str] = field(default_factory=dict)  # preamble, indication, ...


def clean_text(text: str | None) -> str:
    """Collapse every run of whitespace (line breaks, indentation) to one space."""
    return " ".join((text or "").split())


def parse_sections(text: str | None) -> ReportSections:
    """Split ``text`` into sections by the rules in this module's docstring."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    headers = _find_headers(text)
    pieces: dict[str, list[str]] = {}
    bounds = [(0, 0, "preamble"), *headers]
    for i, (_, content_start, key) in enumerate(bounds):
        content_end = bounds[i + 1][0] if i + 1 < len(bounds) else len(text)
        content = clean_text(text[content_start:content_end])
        pieces.setdefault(key, [])
        if content:
            pieces[key].append(content)
    joined = {k: " ".join(v) for k, v in pieces.items()}
    findings = joined.pop("findings", "")
    impression = joined.pop("impression", "")
    other = {k: v for k, v in joined.items() if v}
    return ReportSections(findings=findings, impression=impression, other=other)


def _find_headers(text: str) -> list[tuple[int, int, str]]:
    """``(header_start, content_start, section)`` for every header, in text order."""
    found: list[tuple[int, int, str]] = []
    for m in _LINE_HEADER.finditer(text):
        key = _line_header_key(m.group("name"))
        if key is not None:
            found.append((m.start(), m.end(), key))
    for m in _BARE_HEADER.finditer(text):
        key = KNOWN_HEADERS.get(_normalise(m.group("name")))
        if key is not None:
            found.append((m.start(), m.end(), key))
    for pattern in (_INLINE_CASED, _INLINE_AFTER_SENTENCE):
        for m in pattern.finditer(text):
            key = KNOWN_HEADERS.get(_normalise(m.group("name")))
            if key is not None:
                found.append((m.start(), m.end(), key))
    found.sort()
    kept: list[tuple[int, int, str]] = []
    for start, end, key in found:
        if kept and start < kept[-1][1]:
            continue  # e.g. "IMPRESSION:" inside "FINDINGS AND IMPRESSION:"
        kept.append((start, end, key))
    return kept


def _line_header_key(name: str) -> str | None:
    norm = _normalise(name)
    if norm in KNOWN_HEADERS:
        return KNOWN_HEADERS[norm]
    letters = re.sub(r"[^A-Za-z]", "", name)
    if (
        len(letters) >= 2
        and letters.isupper()
        and len(norm.split()) <= _MAX_HEADER_WORDS
        and len(norm) <= _MAX_HEADER_CHARS
    ):
        return norm
    return None


def _normalise(name: str) -> str:
    return " ".join(name.lower().split())
