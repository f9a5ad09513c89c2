"""MIMIC-CXR: radiology report generation from chest X-rays (Johnson et al., Sci Data 2019).

Source: PhysioNet (credentialed access, PhysioNet Credentialed Health Data License 1.5.0):
MIMIC-CXR-JPG 2.x (images, split and metadata CSVs) and MIMIC-CXR 2.x (the free-text reports,
``mimic-cxr-reports.zip``). Nothing of it ships with lingshu: build the test set from your own
copy with ``lingshu data prepare mimic-cxr --mimic-root DIR --out DATA_DIR/mimic-cxr``, which
keeps the official ``test`` split, parses FINDINGS / IMPRESSION, chooses one frontal (PA over
AP) and one lateral image per study and records every dropped study with its reason
(docs/report-benchmarks.md).

The model sees the study's images (frontal first) and writes a report; the reference is
MedEvalKit's ``"Findings: {findings} Impression: {impression}."``. Sample ids are MIMIC-CXR
study ids. ReXrank's ``ReXRank_MIMICCXR_test.json`` (+ ``files/``) and MedEvalKit's
``test.json`` (+ ``images/``) load too.
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
    rexrank_files={"test": "ReXRank_MIMICCXR_test.json"},
    rexrank_image_dirs=("files", ""),
    study_id=first_match(r"(?:^|/s|^s)(\d{8})(?:/|\.|$)", lambda m: m.group(1)),
)


@BENCHMARKS.register("mimic-cxr")
class MimicCxr(ReportBenchmark):
    """
    MIMIC-CXR report generation: one official-test-split study per sample (frontal image
    first, PA over AP, then one lateral); reference "Findings: ... Impression: ...".
    Build DIR/mimic-cxr/ from your PhysioNet copy with `lingshu data prepare mimic-cxr
    --mimic-root M --out DIR/mimic-cxr`; it prints and records (meta.json) every dropped
    study with its reason. Rules: docs/report-benchmarks.md.
    """

    name = "mimic-cxr"
    version = "1"
    modality = "multimodal"
    source = (
        "PhysioNet MIMIC-CXR-JPG + MIMIC-CXR reports (credentialed); build the test set with "
        "`lingshu data prepare mimic-cxr`"
    )
    license = "PhysioNet Credentialed Health Data License 1.5.0 (not redistributable)"
    split = "official test split (mimic-cxr-2.0.0-split.csv: split == test), one study per sample"
    splits = ("test", "validate", "train")
    expected_count = None  # depends on the documented drop rules; see meta.json counts
    layout = """
DIR/mimic-cxr/                 written by `lingshu data prepare mimic-cxr --mimic-root M
                               --out DIR/mimic-cxr`
  meta.json                    image_root, counts (kept / dropped per reason), rules
  test.jsonl                   one study per line: study_id, subject_id, images, views,
                               findings, impression
  images/                      (only with --copy-images / --convert-dicom)
or ReXrank's ReXRank_MIMICCXR_test.json + files/p10/...jpg
or MedEvalKit's test.json ([{"image": [...], "findings", "impression"}]) + images/
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        return load_report_samples(self, self.root(data_dir), split, LAYOUT)
