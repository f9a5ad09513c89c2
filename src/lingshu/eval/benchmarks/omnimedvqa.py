"""OmniMedVQA: multiple-choice questions over 12 imaging modalities from public datasets.

Paper: Hu et al., "OmniMedVQA: A New Large-Scale Comprehensive Evaluation Benchmark for
Medical LVLM", CVPR 2024 (arXiv 2402.09181). Release: Hugging Face
foreverbeliever/OmniMedVQA (``OmniMedVQA.zip``). Lingshu and MedEvalKit evaluate every
question of the open-access part: ``QA_information/Open-access/*.json`` (one file per source
dataset, 88,996 questions in 42 files) with images under ``Images/``.

Each JSON file is a list of ``{dataset, question_id, question_type, question, gt_answer,
image_path, option_A.., modality_type}``; ``image_path`` is relative to the release root.
Options are the non-empty ``option_X`` fields in letter order; the gold letter is the
option whose text equals ``gt_answer``. ``raw_options`` keeps every ``option_A..D`` key
as written, empty ones included: MedEvalKit shows those as lines "C. " and "D. ". One
file of the release writes ``modality`` instead of ``modality_type``; both are read. Ids are ``<file stem>/<question_id>``.

Note: Med-R1 trained on part of this set (BRIEF §2); any training split of ours must be
disjoint from it.
"""

from __future__ import annotations

from pathlib import Path

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import read_json, require
from lingshu.eval.benchmarks._multimodal import (
    check_unique_ids,
    image_file,
    require_dir,
    text,
)
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

QA_DIR = Path("QA_information") / "Open-access"
LETTERS = ("A", "B", "C", "D", "E", "F")
MEDEVALKIT_LETTERS = ("A", "B", "C", "D")  # the option_X keys MedEvalKit's loader reads
ROW_FIELDS = ("question_id", "question", "gt_answer", "image_path")


@BENCHMARKS.register("omnimedvqa")
class OmniMedVqa(Benchmark):
    name = "omnimedvqa"
    version = "2"  # 2: raw_options (option_A..D as written, empty ones kept)
    modality = "multimodal"
    source = "Hugging Face foreverbeliever/OmniMedVQA (OmniMedVQA.zip), open-access part"
    license = "research use; each image keeps its source dataset's license (open-access part only)"
    split = "open-access part, all questions (42 source datasets)"
    splits = ("all",)
    # Count of the open-access JSON files of the public release (42 source datasets).
    expected_count = 88996
    layout = """
omnimedvqa/
  QA_information/Open-access/<dataset>.json   (lists of questions, one file per source dataset)
  Images/<dataset>/...                        (paths as in each question's image_path)
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        qa_dir = require_dir(root / QA_DIR, "question (QA_information/Open-access)")
        files = sorted(qa_dir.glob("*.json"))
        if not files:
            raise DataError(f"{qa_dir}: no *.json question files; expected {self.layout_hint()}")
        samples: list[Sample] = []
        for path in files:
            samples.extend(self._load_file(root, path))
        check_unique_ids(samples, str(qa_dir))
        return self.check_count(samples, split)

    def _load_file(self, root: Path, path: Path) -> list[Sample]:
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
        samples = []
        for i, row in enumerate(data):
            where = f"{path}: row {i}"
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            require(row, ROW_FIELDS, where)
            where = f"{path}: row {i} (question_id {row['question_id']})"
            options = {
                letter: text(row[f"option_{letter}"])
                for letter in LETTERS
                if text(row.get(f"option_{letter}"))
            }
            if len(options) < 2:
                raise DataError(f"{where}: fewer than two non-empty option_A.. fields")
            categories = {
                "modality": text(row.get("modality_type") or row.get("modality")),
                "question_type": text(row.get("question_type")),
                "dataset": text(row.get("dataset")) or path.stem,
            }
            samples.append(
                Sample(
                    id=f"{path.stem}/{text(row['question_id'])}",
                    benchmark=self.name,
                    task="mcq",
                    question=text(row["question"]),
                    answer=self._gold(text(row["gt_answer"]), options, where),
                    options=options,
                    images=(image_file(root, text(row["image_path"]), where),),
                    categories={k: v for k, v in categories.items() if v},
                    raw_options={
                        letter: str(row[f"option_{letter}"] or "")
                        for letter in MEDEVALKIT_LETTERS
                        if f"option_{letter}" in row
                    },
                )
            )
        return samples

    @staticmethod
    def _gold(gt_answer: str, options: dict[str, str], where: str) -> str:
        """The letter of the option equal to ``gt_answer`` (exact first, then ignoring case)."""
        for letter, option in options.items():
            if option == gt_answer:
                return letter
        for letter, option in options.items():
            if option.casefold() == gt_answer.casefold():
                return letter
        raise DataError(
            f"{where}: gt_answer {gt_answer!r} equals none of the options "
            f"{options}; the row cannot be scored"
        )
