"""De-identification of text: replace HIPAA Safe Harbor PHI by ``[CATEGORY]`` placeholders,
plus the paper's optional LLM rewrite of patient-doctor dialogues.

Why this project's own detectors (``lingshu.data.curate.deid``) rather than a library's
filter: on the held-out notes of the labelled corpus in tests/golden/deid (118 PHI spans, 26
PHI-free notes) presidio-analyzer with a spaCy NER pipeline found 0.68 of the PHI and changed
24 of the PHI-free notes, philter-lite found 0.47 and changed 18; the detectors here found
0.97 and changed none (bench/deid_recall.py; table in docs/curation.md). From philter-lite
they take its word lists, which tell names from Title Case clinical words. Every replacement
is recorded in ``stats`` by category and offset, never by its text, so the output can be
audited without carrying the PHI along.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from lingshu.data.curate.deid import CATEGORIES, scrub
from lingshu.data.curate.deid.lexicon import load_lexicon
from lingshu.data.curate.ops.base import MapOp, OpParams, register_op
from lingshu.data.curate.ops.llm import LlmClient, LlmSpec, render
from lingshu.data.curate.record import Record

Category = Literal["NAME", "DATE", "AGE", "PHONE", "EMAIL", "ADDRESS", "ID"]


class DeidParams(OpParams):
    llm_rewrite: LlmSpec | None = Field(None, description="rewrite dialogues with an LLM "
                                        "(removes identities, explicit diagnoses/prescriptions)")
    rewrite_tasks: list[str] = Field(["dialogue"], description="tasks the LLM rewrite applies to")
    categories: list[Category] = Field(list(CATEGORIES), description="PHI kinds to replace "
                                       "(NAME DATE AGE PHONE EMAIL ADDRESS ID)")

    @field_validator("categories")
    @classmethod
    def _some(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("an empty list replaces nothing; leave the op out instead")
        return v


@register_op("deidentify")
class Deidentify(MapOp):
    summary = ("replace names, dates, ages > 89, phones, emails, IDs, addresses by [KIND] "
               "(+ LLM rewrite)")
    Params = DeidParams
    uses_model = True

    def setup(self) -> None:
        load_lexicon()  # once per worker, and a missing philter-lite fails here in one line
        self.llm = None
        if self.params.llm_rewrite is not None:
            work = self.context.work_folder() if self.context else Path(".work")
            self.llm = LlmClient(self.params.llm_rewrite, work / "llm_cache.sqlite")

    def _scrub_record(self, rec: Record) -> dict[str, Any]:
        """Scrub every text part in place; return what was replaced, by category, and where
        (part index in message order, start, end in the original part, category)."""
        replaced: dict[str, int] = {}
        where: list[list[Any]] = []
        part = itertools.count()

        def fix(text: str) -> str:
            index = next(part)
            new, spans = scrub(text, self.params.categories)
            for s, e, cat in spans:
                replaced[cat] = replaced.get(cat, 0) + 1
                where.append([index, s, e, cat])
            return new

        rec.map_texts(fix)
        return {"replaced": replaced, "spans": where}

    def apply(self, records: list[Record]):  # noqa: ANN201
        if not hasattr(self, "llm"):
            self.setup()
        for rec in records:
            rec.stats[self.name] = self._scrub_record(rec)
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
