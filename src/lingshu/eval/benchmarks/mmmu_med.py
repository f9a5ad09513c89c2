"""MMMU-Med: the five "Health and Medicine" subjects of MMMU.

Paper: Yue et al., "MMMU: A Massive Multi-discipline Multimodal Understanding and Reasoning
Benchmark for Expert AGI", CVPR 2024. Release: Hugging Face MMMU/MMMU (Apache-2.0), one
folder per subject with ``dev`` / ``validation`` / ``test`` parquet files. Lingshu evaluates
the validation split of Basic_Medical_Science, Clinical_Medicine,
Diagnostics_and_Laboratory_Medicine, Pharmacy and Public_Health (30 each = 150).

The test split (``--split test``): MMMU's release hides its answers (the ``answer`` column
holds "?"; scoring was on MMMU's evaluation server), but MedEvalKit ships gold answers for it
in ``utils/MMMU/answer.json``. Copy that file to ``mmmu-med/answer.json``: it is read as a
JSON object mapping each test id to its answer (a letter, or for open questions a text or a
list of texts, whose first item is the gold; a value ``{"answer": ...}`` is accepted too).
Without it the split is refused with that advice, never scored against "?". The format is
taken from MedEvalKit's use of the file (``eval_test.py`` passes it whole to ``evaluate``);
the file itself was not available to check.

Columns: ``id, question, options, answer, image_1..image_7, img_type, question_type,
subfield, ...``. ``options`` and ``img_type`` are Python list literals stored as strings;
they are parsed with ``ast.literal_eval``, which evaluates literals only (never code, never
pickle). Questions keep their ``<image k>`` placeholders; images are attached in
``image_1..image_7`` order. ``multiple-choice`` rows become MCQs (options lettered A, B, ...
in list order, gold = ``answer`` letter); ``open`` rows become open VQA items.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import read_json, require
from lingshu.eval.benchmarks._multimodal import check_unique_ids, hf_image, hf_rows, text
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

SUBJECTS = (
    "Basic_Medical_Science",
    "Clinical_Medicine",
    "Diagnostics_and_Laboratory_Medicine",
    "Pharmacy",
    "Public_Health",
)
MAX_IMAGES = 7  # MMMU's image_1 .. image_7 columns
ROW_FIELDS = ("id", "question", "options", "answer", "question_type")


@BENCHMARKS.register("mmmu-med")
class MmmuMed(Benchmark):
    name = "mmmu-med"
    version = "1"
    modality = "multimodal"
    source = "Hugging Face MMMU/MMMU, subjects " + ", ".join(SUBJECTS)
    license = "Apache-2.0 (dataset card)"
    split = "validation split of the five medical subjects (30 each)"
    splits = ("validation", "dev", "test")
    expected_count = 150
    layout = """
mmmu-med/
  Basic_Medical_Science/validation-*.parquet
  Clinical_Medicine/validation-*.parquet
  Diagnostics_and_Laboratory_Medicine/validation-*.parquet
  Pharmacy/validation-*.parquet
  Public_Health/validation-*.parquet
(the MMMU/MMMU export, one folder per subject; dev-*.parquet for --split dev; a save_to_disk
folder per subject works too)
--split test: test-*.parquet per subject and answer.json (MedEvalKit's utils/MMMU/answer.json)
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        missing = [s for s in SUBJECTS if not (root / s).is_dir()]
        if missing:
            raise DataError(
                f"{root}: missing subject folder(s) {', '.join(missing)}; expected "
                f"{self.layout_hint()}"
            )
        gold = _test_answers(root) if split == "test" else None
        samples: list[Sample] = []
        for subject in SUBJECTS:
            rows = hf_rows(root / subject, split)
            if rows is None:
                raise DataError(
                    f"{root / subject}: no parquet files or save_to_disk export for this subject"
                )
            for i, row in enumerate(rows):
                where = f"{root / subject}: row {i}"
                if gold is not None:
                    row = {**row, "answer": _gold_for(gold, row, where, root)}
                samples.append(self._sample(root, subject, row, where))
        check_unique_ids(samples, str(root))
        return self.check_count(samples, split)

    def _sample(self, root: Path, subject: str, row: dict, where: str) -> Sample:
        require(row, ROW_FIELDS, where)
        where = f"{where} (id {row['id']})"
        images = tuple(
            hf_image(row[f"image_{k}"], root, f"{where}, image_{k}")
            for k in range(1, MAX_IMAGES + 1)
            if row.get(f"image_{k}") is not None
        )
        categories = {"subject": subject}
        if text(row.get("subfield")):
            categories["subfield"] = text(row["subfield"])
        if row.get("img_type") is not None:
            categories["img_type"] = "; ".join(_string_list(row["img_type"], "img_type", where))
        common = {"id": text(row["id"]), "benchmark": self.name, "question": text(row["question"])}
        question_type = text(row["question_type"])
        if question_type == "open":
            return Sample(
                **common,
                task="vqa",
                answer=text(row["answer"]),
                images=images,
                answer_type="open",
                categories=categories,
            )
        if question_type != "multiple-choice":
            raise DataError(
                f"{where}: question_type {question_type!r}; expected 'multiple-choice' or 'open'"
            )
        choices = _string_list(row["options"], "options", where)
        if len(choices) < 2:
            raise DataError(f"{where}: a multiple-choice row needs at least two options")
        options = {chr(ord("A") + j): text(c) for j, c in enumerate(choices)}
        answer = text(row["answer"]).upper()
        if answer not in options:
            raise DataError(
                f"{where}: answer {row['answer']!r} is not one of the option letters "
                f"{list(options)}"
            )
        return Sample(
            **common,
            task="mcq",
            answer=answer,
            options=options,
            images=images,
            categories=categories,
        )


def _string_list(value: Any, field: str, where: str) -> list[str]:
    """MMMU stores lists as their Python repr (``"['a', 'b']"``); exports may hold real lists."""
    if isinstance(value, list | tuple):
        return [text(v) for v in value]
    try:
        parsed = ast.literal_eval(text(value))
    except (ValueError, SyntaxError, RecursionError):
        raise DataError(
            f"{where}: {field} is not a list literal (got {text(value)[:80]!r})"
        ) from None
    if not isinstance(parsed, list | tuple):
        raise DataError(f"{where}: {field} should be a list, got {type(parsed).__name__}")
    return [text(v) for v in parsed]


def _test_answers(root: Path) -> dict[str, Any]:
    """MedEvalKit's ``answer.json`` for the test split (module docstring)."""
    path = root / "answer.json"
    if not path.is_file():
        raise DataError(
            f"{root}: --split test needs answer.json: MMMU's release hides the test answers "
            "(they are '?'); copy MedEvalKit's utils/MMMU/answer.json there, or evaluate "
            "--split validation"
        )
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object mapping test ids to answers")
    return data


def _gold_for(gold: dict[str, Any], row: dict, where: str, root: Path) -> str:
    value = gold.get(text(row.get("id")))
    if isinstance(value, dict):
        value = value.get("answer")
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or not text(value):
        raise DataError(
            f"{where} (id {row.get('id')}): no answer in {root / 'answer.json'}; the file "
            "must hold every test id of the five medical subjects"
        )
    return text(value)
