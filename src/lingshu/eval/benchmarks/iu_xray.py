"""IU-Xray (Indiana University Chest X-ray Collection, Demner-Fushman et al., JAMIA 2016).

Source: Open-i (https://openi.nlm.nih.gov/faq#collection): ``NLMCXR_reports.tgz`` (3,955
reports as XML with FINDINGS / IMPRESSION) and ``NLMCXR_png.tgz`` (7,470 PNGs); CC BY-NC-ND
4.0. Build the test set with ``lingshu data prepare iu-xray --reports NLMCXR_reports.tgz
--images NLMCXR_png/ --out DATA_DIR/iu-xray``.

Split: Open-i has none. MedEvalKit reports 296 studies, the size of ReXrank's / R2Gen's
validation list (``ReXRank_IUXray_valid.json``); ReXrank's test list has 590. Pass that file
with ``--split-file`` to reproduce MedEvalKit's 296, or load ReXrank's JSON directly
(``--split val`` for the 296, ``test`` for the 590). Without a list, ``prepare`` uses a
documented hash split with R2Gen's 7:1:2 proportions but not its membership (numbers are then
not comparable with published ones; the loader warns when the count is not 296).

One report = one sample with its images in the report's order (frontal first for most), the
reference MedEvalKit's ``"Findings: {findings} Impression: {impression}."``. Sample ids are
``CXR<report number>`` in every layout. MedEvalKit's ``test.json`` (+ ``images/``) loads too.
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
    rexrank_files={"test": "ReXRank_IUXray_test.json", "val": "ReXRank_IUXray_valid.json"},
    rexrank_image_dirs=("images", ""),
    study_id=first_match(r"CXR(\d+)", lambda m: f"CXR{int(m.group(1))}"),
)


@BENCHMARKS.register("iu-xray")
class IuXray(ReportBenchmark):
    """
    IU-Xray (Open-i) report generation: one report per sample with its images in the
    report's order. MedEvalKit's 296 studies are ReXrank's validation list: build them with
    `lingshu data prepare iu-xray --reports NLMCXR_reports.tgz --images NLMCXR_png/
    --split-file ReXRank_IUXray_valid.json --out DIR/iu-xray`. Without a list a documented
    hash split is used (not comparable with published numbers). docs/report-benchmarks.md.
    """

    name = "iu-xray"
    version = "1"
    modality = "multimodal"
    source = (
        "Open-i NLMCXR_reports.tgz + NLMCXR_png.tgz (https://openi.nlm.nih.gov/faq#collection); "
        "build the test set with `lingshu data prepare iu-xray`"
    )
    license = "CC BY-NC-ND 4.0"
    split = "MedEvalKit's 296 studies (= ReXrank/R2Gen validation list; pass it with --split-file)"
    splits = ("test", "val", "train", "all")
    expected_count = 296  # MedEvalKit / Lingshu's IU-Xray size (BRIEF §4)
    layout = """
DIR/iu-xray/                   written by `lingshu data prepare iu-xray --reports R
                               --images P --out DIR/iu-xray`
  meta.json                    image_root, counts (kept / dropped per reason), rules, split rule
  test.jsonl                   one report per line: study_id (CXR<n>), images, findings, impression
  images/                      (only with --copy-images)
or ReXrank's ReXRank_IUXray_test.json / ReXRank_IUXray_valid.json + images/CXR<n>_IM-..../0.png
or MedEvalKit's test.json ([{"image": [...], "findings", "impression"}]) + images/
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        return load_report_samples(self, self.root(data_dir), split, LAYOUT)
