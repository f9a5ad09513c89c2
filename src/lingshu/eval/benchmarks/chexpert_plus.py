"""CheXpert Plus: radiology report generation (Chambon et al., arXiv 2405.19538, 2024).

Source: Stanford AIMI (registration and data use agreement; Stanford University Dataset
Research Use Agreement): ``df_chexpert_plus_240401.csv`` (reports with their sections) and
``PNG.zip``. Nothing of it ships with lingshu: build the test set from your own copy with
``lingshu data prepare chexpert-plus --root DIR --out DATA_DIR/chexpert-plus``.

CheXpert Plus has no official test split; like ReXrank and MedEvalKit (its maintainers, GitHub
alibaba-damo-academy/MedEvalKit issue #1) the paper's test set is the release's ``valid``
split. One study (``patientN/studyM``) per sample, frontal image first (PA over AP), then one
lateral; the reference is MedEvalKit's ``"Findings: {findings} Impression: {impression}."``
from the release's section columns. Sample ids are ``patientN_studyM``. ReXrank's
``ReXRank_CheXpertPlus.json`` (+ ``PNG/``) and MedEvalKit's ``test.json`` (+ ``images/``)
load too.
"""

from __future__ import annotations

from pathlib import Path

from lingshu.eval.benchmarks._reports import (
    ReportBenchmark,
    ReportLayout,
    first_match,
    load_report_samples,
)
from lingshu.eval.benchmarks.base import BENCHMARKS
from lingshu.eval.types import Sample

LAYOUT = ReportLayout(
    rexrank_files={"test": "ReXRank_CheXpertPlus.json"},
    rexrank_image_dirs=("PNG", "PNG/PNG", ""),
    study_id=first_match(r"(patient\d+)[/_](study\d+)", lambda m: f"{m.group(1)}_{m.group(2)}"),
)


@BENCHMARKS.register("chexpert-plus")
class ChexpertPlus(ReportBenchmark):
    """
    CheXpert Plus report generation: one study of the release's valid split (the paper's
    test set) per sample, frontal image first (PA over AP), then one lateral; sections from
    the release's section columns. Build DIR/chexpert-plus/ with `lingshu data prepare
    chexpert-plus --root R --out DIR/chexpert-plus`. Rules: docs/report-benchmarks.md.
    """

    name = "chexpert-plus"
    version = "1"
    modality = "multimodal"
    source = (
        "Stanford AIMI CheXpert Plus (df_chexpert_plus_240401.csv + PNG.zip; registration "
        "required); build the test set with `lingshu data prepare chexpert-plus`"
    )
    license = "Stanford University Dataset Research Use Agreement (non-commercial research)"
    split = "the release's valid split used as test set (as ReXrank / MedEvalKit do)"
    splits = ("test", "train")
    expected_count = None  # depends on the documented drop rules; see meta.json counts
    layout = """
DIR/chexpert-plus/             written by `lingshu data prepare chexpert-plus --root R
                               --out DIR/chexpert-plus`
  meta.json                    image_root, counts (kept / dropped per reason), rules
  test.jsonl                   one study per line: study_id (patientN_studyM), subject_id,
                               images, views, findings, impression
  images/                      (only with --copy-images / --convert-dicom)
or ReXrank's ReXRank_CheXpertPlus.json + PNG/valid/patientN/studyM/view1_frontal.png
or MedEvalKit's test.json ([{"image": "...", "findings", "impression"}]) + images/
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        return load_report_samples(self, self.root(data_dir), split, LAYOUT)
