"""SLAKE 1.0: bilingual (English/Chinese) VQA on CT, MRI and X-ray images.

Paper: Liu et al., "SLAKE: A Semantically-Labeled Knowledge-Enhanced Dataset for Medical
Visual Question Answering", ISBI 2021. Release: https://www.med-vqa.com/slake/ and the
authors' Hugging Face copy BoKelvin/SLAKE (``test.json`` + ``imgs.zip``), CC BY 4.0.
Lingshu evaluates the English test questions (1,061) by default; ``--split test-zh`` gives
the Chinese ones (1,033) and ``--split test-en-zh`` both, in the release's order (2,094).

Which one the paper's number used: most likely ``test-en-zh``. The Lingshu paper's numbers
come from MedEvalKit, whose SLAKE loader reads every row of ``test.json`` with no language
filter (2,094 questions, Chinese questions with Chinese prompts); the paper does not say
so. Use ``--split test-en-zh --profile medevalkit`` to compare with it, and the English
split for comparisons with the many papers that report SLAKE-en.

Layouts:
- the release: ``test.json`` (or, when absent, a single ``test*.json`` such as the bundled
  ``test.sample40images.json``) + ``imgs/<img_name>`` (``img_name`` = ``xmlab102/source.jpg``).
  Ids are the release's ``qid``; ``answer_type`` (CLOSED/OPEN), ``modality``, ``location``
  (reported as ``organ``) and ``content_type`` come from the row.
- a Hugging Face parquet / ``save_to_disk`` export of the same rows with an ``image``
  column (embedded bytes) or ``img_name`` + ``imgs/``. It must keep ``answer_type``: SLAKE's
  closed questions are not only yes/no ("Which is bigger, the liver or the spleen?"), so
  the label cannot be derived from the answer.
"""

from __future__ import annotations

from pathlib import Path

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import read_json, require
from lingshu.eval.benchmarks._multimodal import (
    check_unique_ids,
    hf_image,
    hf_rows,
    image_file,
    labelled_answer_type,
    require_dir,
    text,
)
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

LANGUAGE_OF_SPLIT = {"test": ("en",), "test-zh": ("zh",), "test-en-zh": ("en", "zh")}
ROW_FIELDS = ("qid", "question", "answer", "answer_type")
# category key -> the release's field
CATEGORY_FIELDS = {"modality": "modality", "organ": "location", "content_type": "content_type"}


@BENCHMARKS.register("slake")
class Slake(Benchmark):
    name = "slake"
    version = "1"
    modality = "multimodal"
    source = "https://www.med-vqa.com/slake/ ; Hugging Face BoKelvin/SLAKE (test.json + imgs.zip)"
    license = "CC BY 4.0 (attribution required)"
    split = "English test split (q_lang en; --split test-zh for Chinese, test-en-zh for both)"
    splits = ("test", "test-zh", "test-en-zh")
    expected_count = 1061
    layout = """
slake/
  test.json                      (or one test*.json file)
  imgs/xmlab<N>/source.jpg       (imgs.zip of the release, extracted)
or a Hugging Face export (parquet / save_to_disk) of the same rows with an image column
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        langs = LANGUAGE_OF_SPLIT[split]
        question_file = self._question_file(root)
        if question_file is not None:
            samples = self._load_release(root, question_file, langs)
        else:
            rows = hf_rows(root, "test")
            if rows is None:
                raise DataError(
                    f"{root}: no test.json and no Hugging Face export found; expected "
                    f"{self.layout_hint()}"
                )
            samples = self._load_rows(root, rows, langs, f"{root} (Hugging Face export)")
        if not samples:
            raise DataError(
                f"{question_file or root}: no questions with q_lang in {list(langs)} for split "
                f"{split!r}"
            )
        check_unique_ids(samples, str(question_file or root))
        return self.check_count(samples, split)

    @staticmethod
    def _question_file(root: Path) -> Path | None:
        exact = root / "test.json"
        if exact.is_file():
            return exact
        candidates = sorted(root.glob("test*.json"))
        if len(candidates) > 1:
            names = ", ".join(p.name for p in candidates)
            raise DataError(
                f"{root}: no test.json and several test*.json files ({names}); keep one or "
                "name the release file test.json"
            )
        return candidates[0] if candidates else None

    def _load_release(self, root: Path, path: Path, langs: tuple[str, ...]) -> list[Sample]:
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(
                f"{path}: expected a JSON list of question rows, got {type(data).__name__}"
            )
        require_dir(root / "imgs", "image")
        return self._load_rows(root, data, langs, str(path))

    def _load_rows(
        self, root: Path, rows: list, langs: tuple[str, ...], source: str
    ) -> list[Sample]:
        samples: list[Sample] = []
        for i, row in enumerate(rows):
            where = f"{source}: row {i}"
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            require(row, ROW_FIELDS, where)
            where = f"{source}: row {i} (qid {row['qid']})"
            # An export without q_lang is taken as English-only (it cannot be Chinese-only
            # and still be called the SLAKE English test set).
            if text(row.get("q_lang") or "en").lower() not in langs:
                continue
            answer_type = labelled_answer_type(row["answer_type"], where)
            categories = {"answer_type": answer_type}
            for key, field in CATEGORY_FIELDS.items():
                if text(row.get(field)):
                    categories[key] = text(row[field])
            if len(langs) > 1:  # both languages: a per-language breakdown
                categories["lang"] = text(row.get("q_lang") or "en").lower()
            samples.append(
                Sample(
                    id=text(row["qid"]),
                    benchmark=self.name,
                    task="vqa",
                    question=text(row["question"]),
                    answer=text(row["answer"]),
                    images=(self._image(root, row, where),),
                    answer_type=answer_type,
                    categories=categories,
                )
            )
        return samples

    @staticmethod
    def _image(root: Path, row: dict, where: str) -> str:
        if row.get("image") is not None:
            return hf_image(row["image"], root, where)
        if text(row.get("img_name")):
            return image_file(root / "imgs", text(row["img_name"]), where)
        raise DataError(f"{where}: no image: expected an img_name field (or an image column)")
