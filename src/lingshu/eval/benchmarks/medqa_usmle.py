"""MedQA-USMLE, 4-option version (Jin et al., 2021): US medical licensing exam questions.

Source: the MedQA release (github.com/jind11/MedQA, MIT), file
``data_clean/questions/US/4_options/phrases_no_exclude_test.jsonl``; the same file is the
test split of the Hugging Face dataset ``GBaker/MedQA-USMLE-4-options``. 1,273 questions,
options A-D, gold letter ``answer_idx``. Breakdown: ``meta_info`` (``step1`` or
``step2&3``).

The release also ships a 5-option ``US/test.jsonl`` and Chinese (Mainland, Taiwan) files;
the loader refuses rows with more than four options so a wrong file cannot pass silently.
MedQA has no ids: sample ids are ``test-<row>`` (0-based position in the file), identical
for the release file and the Hugging Face export, which keep the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import find_hf_export, iter_jsonl, load_hf_rows
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

RELEASE_FILE = "phrases_no_exclude_test.jsonl"
LETTERS = ("A", "B", "C", "D")


@BENCHMARKS.register("medqa-usmle")
class MedQAUSMLE(Benchmark):
    name = "medqa-usmle"
    version = "1"
    modality = "text"
    source = (
        "MedQA (github.com/jind11/MedQA): data_clean/questions/US/4_options/"
        "phrases_no_exclude_test.jsonl; Hugging Face GBaker/MedQA-USMLE-4-options (test)"
    )
    license = "MIT (MedQA repository)"
    split = "4-option test split"
    splits = ("test",)
    expected_count = 1273
    layout = """
medqa-usmle/
  phrases_no_exclude_test.jsonl   anywhere below this folder (the release keeps it in
                                  data_clean/questions/US/4_options/); one JSON object per line:
                                  question, options {A..D}, answer, answer_idx, meta_info
  or test.jsonl with the same fields (a JSON Lines copy of the GBaker export)
or a Hugging Face export of GBaker/MedQA-USMLE-4-options (parquet, e.g.
default/test/*.parquet, or save_to_disk) with the same columns
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        release = _find_release_file(root)
        rows: Iterator[tuple[str, dict[str, Any]]]
        if release is not None:
            rows = ((f"{release}:{n}", r) for n, r in iter_jsonl(release))
        elif (export := find_hf_export(root)) is not None:
            rows = (
                (f"{export}: test row {i}", r) for i, r in enumerate(load_hf_rows(export, "test"))
            )
        else:
            raise DataError(
                f"{root}: no {RELEASE_FILE} and no Hugging Face export found; expected the "
                f"MedQA release file data_clean/questions/US/4_options/{RELEASE_FILE} "
                "(or the GBaker/MedQA-USMLE-4-options export) below this folder"
            )
        samples = [_sample(i, row, where) for i, (where, row) in enumerate(rows)]
        return self.check_count(samples, split)


def _find_release_file(root: Path) -> Path | None:
    found = sorted(root.rglob(RELEASE_FILE))
    if len(found) > 1:  # a full release has one per language/option variant at most
        four = [p for p in found if "4_options" in p.parts]
        if len(four) == 1:
            return four[0]
        names = ", ".join(str(p.relative_to(root)) for p in found)
        raise DataError(
            f"{root}: several {RELEASE_FILE} files ({names}); keep only the US 4-option one"
        )
    if found:
        return found[0]
    plain = root / "test.jsonl"
    return plain if plain.is_file() else None


def _sample(index: int, row: dict[str, Any], where: str) -> Sample:
    for field in ("question", "options", "answer_idx"):
        if row.get(field) is None:
            raise DataError(
                f"{where}: missing field {field!r}; expected question, options, answer, "
                "answer_idx, meta_info as in the MedQA release"
            )
    raw = row["options"]
    if not isinstance(raw, dict):
        raise DataError(f"{where}: 'options' should map letters A-D to option texts")
    # Parquet stores options as a struct; a missing letter comes back as None.
    options = dict(sorted((str(k), str(v)) for k, v in raw.items() if v is not None))
    if tuple(options) != LETTERS:
        raise DataError(
            f"{where}: options {sorted(options)} are not exactly A-D; this loader reads the "
            f"4-option file ({RELEASE_FILE}), not the 5-option US/test.jsonl"
        )
    gold = str(row["answer_idx"]).strip()
    if gold not in options:
        raise DataError(f"{where}: answer_idx {row['answer_idx']!r} is not one of A, B, C, D")
    categories = {"meta_info": str(row["meta_info"])} if row.get("meta_info") else {}
    return Sample(
        id=f"test-{index}",
        benchmark=MedQAUSMLE.name,
        task="mcq",
        question=str(row["question"]),
        answer=gold,
        options=options,
        categories=categories,
    )
