"""VQA-RAD: clinician-written questions on 315 MedPix radiology images.

Paper: Lau et al., "A dataset of clinically generated visual questions and answers about
radiology images", Sci Data 2018 (doi:10.1038/sdata.2018.251). Release: OSF
https://osf.io/89kps/ (CC0 1.0). Lingshu evaluates the official test split: the rows whose
``phrase_type`` is ``test_freeform`` or ``test_para`` (451 QA on 203 images).

Two layouts load:
- the OSF release: ``VQA_RAD Dataset Public.json`` (any ``*.json`` whose name starts with
  that, e.g. the bundled "(train rows only)" copy) + ``VQA_RAD Image Folder/``. Ids are the
  release's ``qid``; ``answer_type`` (CLOSED/OPEN), ``question_type`` and ``image_organ``
  come from the row.
- the Hugging Face export flaviagiammarino/vqa-rad (parquet or ``save_to_disk``: image,
  question, answer; splits train/test). It has no answer-type column; its card defines
  close-ended questions as the binary yes/no ones, so ``answer_type`` is ``closed`` iff the
  gold answer is yes/no. Ids are ``hf-<split>-<row index>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lingshu.core.errors import DataError
from lingshu.core.logs import warn_once
from lingshu.eval.benchmarks._common import read_json, require
from lingshu.eval.benchmarks._multimodal import (
    check_unique_ids,
    hf_rows,
    hf_vqa_samples,
    image_file,
    labelled_answer_type,
    require_dir,
    text,
)
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

log = logging.getLogger(__name__)

JSON_PREFIX = "VQA_RAD Dataset Public"
IMAGE_DIR = "VQA_RAD Image Folder"
TEST_PHRASE_TYPES = frozenset({"test_freeform", "test_para"})  # the release's test rows
ROW_FIELDS = ("qid", "image_name", "question", "answer", "answer_type", "phrase_type")


@BENCHMARKS.register("vqa-rad")
class VqaRad(Benchmark):
    name = "vqa-rad"
    version = "1"
    modality = "multimodal"
    source = (
        "OSF https://osf.io/89kps/ (VQA_RAD Dataset Public.json + VQA_RAD Image Folder); "
        "Hugging Face export flaviagiammarino/vqa-rad"
    )
    license = "CC0 1.0"
    split = "official test split (phrase_type test_freeform / test_para)"
    splits = ("test", "train")
    expected_count = 451
    layout = """
vqa-rad/
  VQA_RAD Dataset Public.json          (OSF release; any *.json named "VQA_RAD Dataset Public*")
  VQA_RAD Image Folder/synpic*.jpg
or the Hugging Face export flaviagiammarino/vqa-rad:
  data/test-*.parquet, data/train-*.parquet   (or a save_to_disk folder)
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        json_files = sorted(root.glob(f"{JSON_PREFIX}*.json"))
        if len(json_files) > 1:
            names = ", ".join(repr(p.name) for p in json_files)
            raise DataError(f"{root}: several VQA-RAD question files ({names}); keep exactly one")
        if json_files:
            samples = self._load_release(root, json_files[0], split)
        else:
            rows = hf_rows(root, split)
            if rows is None:
                raise DataError(
                    f"{root}: no '{JSON_PREFIX}.json' and no Hugging Face export found; "
                    f"expected {self.layout_hint()}"
                )
            samples = self._load_hf(root, rows, split)
        check_unique_ids(samples, str(root))
        return self.check_count(samples, split)

    def _load_release(self, root: Path, path: Path, split: str) -> list[Sample]:
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(
                f"{path}: expected a JSON list of question rows, got {type(data).__name__}"
            )
        images = require_dir(root / IMAGE_DIR, "image")
        samples: list[Sample] = []
        for i, row in enumerate(data):
            where = f"{path}: row {i}"
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            require(row, ROW_FIELDS, where)
            where = f"{path}: row {i} (qid {row['qid']})"
            is_test = text(row["phrase_type"]).lower() in TEST_PHRASE_TYPES
            if is_test != (split == "test"):
                continue
            answer_type = labelled_answer_type(row["answer_type"], where)
            categories = {"answer_type": answer_type}
            if text(row.get("question_type")):
                # Case and spacing only; the release's own typos ("PRSE") are kept as is.
                categories["question_type"] = " ".join(text(row["question_type"]).upper().split())
            if text(row.get("image_organ")):
                categories["organ"] = text(row["image_organ"]).upper()
            samples.append(
                Sample(
                    id=text(row["qid"]),
                    benchmark=self.name,
                    task="vqa",
                    question=text(row["question"]),
                    answer=text(row["answer"]),
                    images=(image_file(images, text(row["image_name"]), where),),
                    answer_type=answer_type,
                    categories=categories,
                )
            )
        if not samples:
            phrase = "test_freeform / test_para" if split == "test" else "other than test_*"
            raise DataError(
                f"{path}: no rows with phrase_type {phrase} (split {split!r}); this copy of "
                f"the release does not contain that split (the bundled demo copy holds only "
                f"train rows): use the complete OSF release file or choose another --split"
            )
        return samples

    def _load_hf(self, root: Path, rows: list[dict], split: str) -> list[Sample]:
        warn_once(
            log, ("vqa-rad", "hf-export", split),
            "vqa-rad: loading the Hugging Face export, whose evaluation differs from the OSF "
            "release's: ids are hf-%s-N (use `lingshu eval compare`, which then matches "
            "samples by question + image), no question_type / organ breakdowns, and no "
            "CLOSED/OPEN label (closed = gold yes/no), so closed questions that are not "
            "yes/no get the open prompt; use the OSF release for comparable numbers",
            split,
        )
        return hf_vqa_samples(
            self.name, root, rows, split, label="Hugging Face export, ", id_prefix="hf-"
        )
