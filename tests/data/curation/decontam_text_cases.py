"""Text decontamination cases: freshly written USMLE-style questions (must be kept) and
verbatim or lightly edited copies of bundled MedQA test items (must be removed).

Run as a script to print the measured rates for several settings (docs/curation.md):

    PYTHONPATH=src python tests/data/curation/decontam_text_cases.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
FRESH = HERE / "golden" / "fresh_usmle_questions.json"
BENCH = HERE.parents[2] / "data" / "benchmarks"


def mcq_text(question: str, options: dict[str, str]) -> str:
    return "\n".join([question, *(f"{k}. {v}" for k, v in options.items())])


def fresh_questions() -> list[tuple[str, str]]:
    """(id, text) of the questions written for this project."""
    rows = json.loads(FRESH.read_text())["questions"]
    return [(r["id"], mcq_text(r["question"], r["options"])) for r in rows]


def _bump_numbers(text: str) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text)


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.?!])\s+", text.strip())


def edits(question: str, options: dict[str, str]) -> dict[str, str]:
    """Light edits a copied test item typically shows in a training set."""
    sents = _sentences(question)
    dropped = " ".join(sents[:1] + sents[2:]) if len(sents) > 2 else question
    rev = dict(zip(options, reversed(list(options.values())), strict=True))
    return {
        "verbatim": mcq_text(question, options),
        "numbers changed": _bump_numbers(mcq_text(question, options)),
        "reworded opener, no options": "Question: " + question.replace(
            "comes to the physician", "visits the doctor").replace(
            "presents to", "comes to").replace("Which of the following", "What"),
        "one sentence dropped, options reordered": mcq_text(dropped, rev),
        "lower case, no punctuation": re.sub(r"[^\w\s]", "", mcq_text(question, options).lower()),
    }


def copied_items() -> list[tuple[str, str, str]]:
    """(MedQA item id, edit name, text) for every bundled MedQA test item."""
    from lingshu.eval.benchmarks import get_benchmark

    out = []
    for s in get_benchmark("medqa-usmle").load(BENCH):
        for name, text in edits(s.question, dict(s.options)).items():
            out.append((s.id, name, text))
    return out


def measure(**params) -> dict[str, object]:  # noqa: ANN003
    """Rates of one decontaminate setting: fresh questions removed (false positives) and
    copies kept (false negatives), per edit."""
    from lingshu.data.curate.ops import OPS
    from lingshu.data.curate.record import Record, conversation

    cls = OPS.get("decontaminate")
    op = cls(cls.Params(data_dir=str(BENCH), **params))
    op.setup()

    def dropped(text: str) -> bool:
        rec = Record(id="x", source="t", messages=conversation(text, "A"))
        return isinstance(op.process(rec), dict)

    fresh = fresh_questions()
    fp = [i for i, t in fresh if dropped(t)]
    by_edit: dict[str, list[int]] = {}
    for _, name, text in copied_items():
        by_edit.setdefault(name, []).append(int(dropped(text)))
    return {"fresh_removed": f"{len(fp)}/{len(fresh)}", "fresh_ids": fp,
            "copies_removed": {k: f"{sum(v)}/{len(v)}" for k, v in by_edit.items()}}


if __name__ == "__main__":
    settings = {
        "before (8-grams, every split, no boilerplate filter)":
            {"ngram": 8, "splits": "all", "max_items_per_ngram": 10**9},
        "8-grams, evaluation splits, boilerplate filter": {"ngram": 8},
        "13-grams, evaluation splits, no boilerplate filter":
            {"ngram": 13, "max_items_per_ngram": 10**9},
        "13-grams, evaluation splits, boilerplate filter (default)": {},
    }
    for label, params in settings.items():
        print(label, json.dumps(measure(**params)))
