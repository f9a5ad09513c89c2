"""SuperGPQA, Medicine discipline (M-A-P Team, 2025): graduate-level questions, up to ten
options each.

Source: Hugging Face ``m-a-p/SuperGPQA`` (ODC-BY), file ``SuperGPQA-all.jsonl`` (26,529
questions over 13 disciplines; the dataset's only split is called ``train`` but is the
evaluation set). Lingshu evaluates the rows with ``discipline == "Medicine"``: 2,755
questions over six fields (Clinical Medicine 1,218, Basic Medicine 567, Public Health and
Preventive Medicine 292, Pharmacy 278, Traditional Chinese Medicine 268, Stomatology 132).
Fields: ``uuid``, ``question``, ``options`` (a list, lettered A, B, ... in order), ``answer``
(text), ``answer_letter``, ``discipline``, ``field``, ``subfield``, ``difficulty``.

Breakdowns: ``field``, ``subfield`` and ``difficulty``, each under its own name (MedEvalKit
reports field accuracies under "difficulty" and the reverse).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import find_hf_export, iter_jsonl, load_hf_rows
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

RELEASE_FILE = "SuperGPQA-all.jsonl"
DISCIPLINE = "Medicine"
CATEGORY_FIELDS = ("field", "subfield", "difficulty")
REQUIRED = ("uuid", "question", "options", "answer_letter", *CATEGORY_FIELDS)
LETTERS = "ABCDEFGHIJ"


@BENCHMARKS.register("supergpqa-med")
class SuperGPQAMed(Benchmark):
    name = "supergpqa-med"
    version = "1"
    modality = "text"
    source = 'Hugging Face m-a-p/SuperGPQA: SuperGPQA-all.jsonl, rows with discipline "Medicine"'
    license = "ODC-BY 1.0 (includes material from MedMCQA, MedQA and others; see the card)"
    split = "Medicine rows of the whole release"
    splits = ("test",)
    expected_count = 2755
    layout = """
supergpqa-med/
  SuperGPQA-all.jsonl   anywhere below this folder; one JSON object per line: uuid, question,
                        options [...], answer, answer_letter, discipline, field, subfield,
                        difficulty (only discipline == "Medicine" rows are used)
or a Hugging Face export of m-a-p/SuperGPQA (parquet or save_to_disk) with the same columns
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        found = sorted(root.rglob(RELEASE_FILE))
        if len(found) > 1:
            names = ", ".join(str(p.relative_to(root)) for p in found)
            raise DataError(f"{root}: several {RELEASE_FILE} files ({names}); keep one")
        rows: Iterator[tuple[str, dict[str, Any]]]
        if found:
            rows = ((f"{found[0]}:{n}", r) for n, r in iter_jsonl(found[0]))
        elif (export := find_hf_export(root)) is not None:
            rows = ((f"{export}: row {i}", r) for i, r in enumerate(load_hf_rows(export)))
        else:
            raise DataError(
                f"{root}: no {RELEASE_FILE} and no Hugging Face export found; expected "
                f"{root}/{RELEASE_FILE} from m-a-p/SuperGPQA"
            )
        samples: list[Sample] = []
        seen: dict[str, str] = {}
        for where, row in rows:
            if row.get("discipline") is None:
                raise DataError(
                    f"{where}: missing field 'discipline'; expected the SuperGPQA columns "
                    f"{', '.join(REQUIRED)}, discipline"
                )
            if row["discipline"] != DISCIPLINE:
                continue
            sample = _sample(row, where)
            if sample.id in seen:
                raise DataError(
                    f"{where}: duplicate uuid {sample.id!r} (first at {seen[sample.id]}); "
                    "remove the repeated row"
                )
            seen[sample.id] = where
            samples.append(sample)
        return self.check_count(samples, split)


def _sample(row: dict[str, Any], where: str) -> Sample:
    for field in REQUIRED:
        if row.get(field) is None:
            raise DataError(
                f"{where}: missing field {field!r}; expected fields {', '.join(REQUIRED)}"
            )
    choices = row["options"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= len(LETTERS):
        raise DataError(f"{where}: 'options' should be a list of 2 to 10 option texts")
    options = {LETTERS[i]: str(text) for i, text in enumerate(choices)}
    gold = str(row["answer_letter"]).strip().upper()
    if gold not in options:
        raise DataError(
            f"{where}: answer_letter {row['answer_letter']!r} is not one of the option "
            f"letters {LETTERS[0]}-{LETTERS[len(options) - 1]}"
        )
    return Sample(
        id=str(row["uuid"]),
        benchmark=SuperGPQAMed.name,
        task="mcq",
        question=str(row["question"]),
        answer=gold,
        options=options,
        categories={f: str(row[f]) for f in CATEGORY_FIELDS},
    )
