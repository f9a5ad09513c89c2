"""De-identification of text: rules for the PHI kinds in medical VQA and dialogue data,
plus the paper's optional LLM rewrite of patient-doctor dialogues.

Why rules: presidio needs a spaCy model downloaded from the network and scrubadub's
name detection needs one too; neither works offline here. The rules cover the HIPAA
Safe Harbor identifiers that appear in text (names with a title or a "name:" cue,
dates, phone and fax numbers, emails, record / ID / account numbers, SSNs, street
addresses and ZIP codes). Recall on the labelled synthetic PHI sample is measured in
tests/data/curation/test_deid.py and stated in docs/curation.md. Names without any cue
("John came in") are what rules miss; use ``llm_rewrite`` for dialogues.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field

from lingshu.data.curate.ops.base import MapOp, OpParams, register_op
from lingshu.data.curate.ops.llm import LlmClient, LlmSpec, render
from lingshu.data.curate.record import Record

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
          r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_NAME = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
           r"Place|Pl|Terrace|Parkway|Pkwy|Highway|Hwy)\.?")

RULES: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("ID", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),  # SSN
    ("ID", re.compile(
        r"(?i)\b(?:MRN|medical record(?: number| no\.?)?|record(?: number| no\.?| #)|"
        r"patient id|account(?: number| no\.?)?|ID(?: number| no\.?)?|insurance(?: id)?|"
        r"policy(?: number)?)\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{3,})")),
    ("PHONE", re.compile(
        r"(?:(?<=\s)|^|(?<=[(:]))(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}\b")),
    ("ADDRESS", re.compile(
        rf"\b\d{{1,6}}\s+(?:[A-Z][a-z]+\s){{1,3}}{_STREET}(?:,?\s+(?:Apt|Suite|Unit)\.?\s*\w+)?"
        rf"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?(?:,\s*[A-Z]{{2}})?(?:\s+\d{{5}}(?:-\d{{4}})?)?")),
    ("DATE", re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b")),
    ("DATE", re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")),
    ("DATE", re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b")),
    ("DATE", re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b")),
    ("DATE", re.compile(rf"\b{_MONTH}\s+\d{{4}}\b")),
    ("NAME", re.compile(
        rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Doctor|Nurse)\.?\s+({_NAME}(?:\s+{_NAME})?)")),
    ("NAME", re.compile(
        rf"(?i:\b(?:my name is|patient name|name|patient|i am|i'm|this is|signed|dear)"
        rf"\s*[:,]?\s+)({_NAME}(?:\s+{_NAME})?)")),
    ("NAME", re.compile(rf"\b({_NAME}\s+{_NAME}),?\s+(?:MD|M\.D\.|RN|DO|PhD|NP|PA-C)\b")),
    ("ID", re.compile(r"\b\d{7,}\b")),
    ("ZIP", re.compile(r"\b\d{5}-\d{4}\b")),
]
_NOT_NAMES = {"The", "This", "That", "Patient", "History", "Findings", "Impression",
              "Yes", "No", "Left", "Right", "Chest", "Normal", "There", "It", "He", "She",
              "Here", "What", "Thank", "Thanks", "Please", "Hello", "Hi", "Doctor", "Sorry"}


def find_phi(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, kind)`` spans, earlier rules winning overlaps."""
    spans: list[tuple[int, int, str]] = []
    for kind, rx in RULES:
        for m in rx.finditer(text):
            s, e = (m.start(1), m.end(1)) if rx.groups else (m.start(), m.end())
            if kind == "NAME" and text[s:e].split()[0] in _NOT_NAMES:
                continue
            if any(s < e2 and s2 < e for s2, e2, _ in spans):
                continue
            spans.append((s, e, kind))
    return sorted(spans)


def scrub(text: str) -> tuple[str, dict[str, int]]:
    counts: dict[str, int] = {}
    out, last = [], 0
    for s, e, kind in find_phi(text):
        out.append(text[last:s])
        out.append(f"[{kind}]")
        counts[kind] = counts.get(kind, 0) + 1
        last = e
    out.append(text[last:])
    return "".join(out), counts


class DeidParams(OpParams):
    llm_rewrite: LlmSpec | None = Field(None, description="rewrite dialogues with an LLM "
                                        "(removes identities, explicit diagnoses/prescriptions)")
    rewrite_tasks: list[str] = Field(["dialogue"], description="tasks the LLM rewrite applies to")


@register_op("deidentify")
class Deidentify(MapOp):
    summary = "replace names, dates, phones, IDs, emails, addresses by [KIND] (+ LLM rewrite)"
    Params = DeidParams
    uses_model = True

    def setup(self) -> None:
        self.llm = None
        if self.params.llm_rewrite is not None:
            out = Path(self.context.resolve(self.context.output.dir)) if self.context else Path(".")
            self.llm = LlmClient(self.params.llm_rewrite, out / ".work" / "llm_cache.sqlite")

    def apply(self, records: list[Record]):  # noqa: ANN201
        if not hasattr(self, "llm"):
            self.setup()
        for rec in records:
            total: dict[str, int] = {}

            def fix(t: str, total: dict[str, int] = total) -> str:
                new, c = scrub(t)
                for k, v in c.items():
                    total[k] = total.get(k, 0) + v
                return new

            rec.map_texts(fix)
            rec.stats[self.name] = {"replaced": total}
        if self.llm is None:
            return records, []
        todo = [r for r in records if r.task in self.params.rewrite_tasks]
        prompts = []
        for r in todo:
            dialogue = "\n".join(f"{m['role']}: {t}" for m in r.messages
                                 for t in Record(id="", source="", messages=[m]).texts())
            v, text = render("deid_rewrite", dialogue=dialogue)
            prompts.append(("deid_rewrite", v, text, []))
        replies = self.llm.ask(prompts)
        kept, dropped = [], []
        rewritten = {id(r): rep for r, rep in zip(todo, replies, strict=True)}
        for r in records:
            if id(r) not in rewritten:
                kept.append(r)
                continue
            turns = _parse_dialogue(rewritten[id(r)])
            if not turns:
                dropped.append(self.exclude(r, "LLM rewrite failed or unparsable"))
                continue
            r.messages = [{"role": role, "content": [{"type": "text", "text": t}]}
                          for role, t in turns]
            r.stats[self.name]["llm_rewrite"] = True
            kept.append(r)
        return kept, dropped


def _parse_dialogue(text: str | None) -> list[tuple[str, str]]:
    if not text:
        return []
    turns = []
    for line in text.splitlines():
        m = re.match(r"\s*(user|assistant|patient|doctor)\s*:\s*(.+)", line, re.IGNORECASE)
        if m:
            role = "user" if m.group(1).lower() in ("user", "patient") else "assistant"
            turns.append((role, m.group(2).strip()))
    return turns
