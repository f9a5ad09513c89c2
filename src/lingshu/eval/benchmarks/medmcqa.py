"""MedMCQA (Pal et al., 2022): Indian medical entrance exam (AIIMS / NEET PG) questions.

Source: the GitHub release (medmcqa.github.io; ``data.zip`` with ``train.json``,
``dev.json``, ``test.json``; MIT) or the Hugging Face dataset ``openlifescienceai/medmcqa``.
The paper evaluates the validation split, the release's ``dev.json``: 4,183 questions, four
options each. The test split has no public answers, so it cannot be scored.

Two encodings of the gold answer exist and are easy to confuse: the release's ``cop`` is
1-based (1 = ``opa``), the Hugging Face export's ``cop`` is a 0-based class index
(0 = ``opa``). The loader decides by the file format, never by the values.

Breakdowns: ``subject`` (``subject_name``) and ``topic`` (``topic_name``; absent from the
categories when the release leaves it null, as it does for most rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import find_hf_export, iter_jsonl, load_hf_rows, read_json
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

OPTION_FIELDS = {"A": "opa", "B": "opb", "C": "opc", "D": "opd"}
REQUIRED = ("id", "question", "opa", "opb", "opc", "opd", "cop")


@BENCHMARKS.register("medmcqa")
class MedMCQA(Benchmark):
    name = "medmcqa"
    version = "1"
    modality = "text"
    source = (
        "MedMCQA, github.com/medmcqa/medmcqa (data.zip: dev.json), or Hugging Face "
        "openlifescienceai/medmcqa (validation split)"
    )
    license = "MIT (GitHub release); the Hugging Face card says Apache-2.0"
    split = "validation split (the release's dev.json)"
    splits = ("validation",)
    expected_count = 4183
    layout = """
medmcqa/
  dev.json      JSON Lines despite its name, one question per line: id, question,
                opa, opb, opc, opd, cop (1-based: 1 = opa), subject_name, topic_name, ...
  (or data/dev.json, as data.zip unpacks)
or a Hugging Face export of openlifescienceai/medmcqa (parquet, e.g.
data/validation-*.parquet, or save_to_disk) where cop is 0-based (0 = opa)
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        release = next(
            (p for p in (root / "dev.json", root / "data" / "dev.json") if p.is_file()), None
        )
        if release is not None:
            rows = ((where, row, _release_cop(row, where)) for where, row in _read_release(release))
        elif (export := find_hf_export(root)) is not None:
            rows = (
                (where, row, _hf_cop(row, where))
                for where, row in _numbered(load_hf_rows(export, "validation"), export)
            )
        else:
            raise DataError(
                f"{root}: neither dev.json nor a Hugging Face export found; expected "
                f"{root}/dev.json from the MedMCQA release (data.zip)"
            )
        samples: list[Sample] = []
        seen: dict[str, str] = {}
        for where, row, gold_index in rows:
            sample = _sample(row, gold_index, where)
            if sample.id in seen:
                raise DataError(
                    f"{where}: duplicate id {sample.id!r} (first at {seen[sample.id]}); "
                    "remove the repeated row"
                )
            seen[sample.id] = where
            samples.append(sample)
        return self.check_count(samples, split)


def _read_release(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``dev.json`` is JSON Lines; a JSON array (some mirrors) is accepted too."""
    with path.open("rb") as fh:
        head = fh.read(64).lstrip()
    if head.startswith(b"["):
        data = read_json(path)
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                raise DataError(f"{path}: item {i}: expected a JSON object")
            yield f"{path}: item {i}", row
        return
    for lineno, row in iter_jsonl(path):
        yield f"{path}:{lineno}", row


def _numbered(rows: list[dict[str, Any]], export: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, row in enumerate(rows):
        yield f"{export}: validation row {i}", row


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _release_cop(row: dict[str, Any], where: str) -> int:
    """The release's 1-based ``cop`` as a 0-based option index."""
    if row.get("cop") is None:
        raise DataError(
            f"{where}: missing field 'cop' (the correct option, 1-4); MedMCQA's test.json has "
            "no answers: use dev.json, the validation split"
        )
    cop = _as_int(row["cop"])
    if cop is None or not 1 <= cop <= 4:
        raise DataError(
            f"{where}: cop {row['cop']!r} is not 1-4 (the release numbers options from 1 = opa)"
        )
    return cop - 1


def _hf_cop(row: dict[str, Any], where: str) -> int:
    """The Hugging Face export's ``cop`` is already 0-based; -1 marks an unlabelled row."""
    if row.get("cop") is None:
        raise DataError(f"{where}: missing field 'cop' (the correct option, 0-3)")
    cop = _as_int(row["cop"])
    if cop is None or not 0 <= cop <= 3:
        raise DataError(
            f"{where}: cop {row['cop']!r} is not 0-3 (the Hugging Face export numbers options "
            "from 0 = opa; -1 marks the unlabelled test split)"
        )
    return cop


def _sample(row: dict[str, Any], gold_index: int, where: str) -> Sample:
    for field in REQUIRED:
        if row.get(field) is None:
            raise DataError(
                f"{where}: missing field {field!r}; expected fields {', '.join(REQUIRED)}"
            )
    options = {letter: str(row[field]) for letter, field in OPTION_FIELDS.items()}
    categories = {}
    if row.get("subject_name"):
        categories["subject"] = str(row["subject_name"])
    if row.get("topic_name"):
        categories["topic"] = str(row["topic_name"])
    return Sample(
        id=str(row["id"]),
        benchmark=MedMCQA.name,
        task="mcq",
        question=str(row["question"]),
        answer="ABCD"[gold_index],
        options=options,
        categories=categories,
    )
