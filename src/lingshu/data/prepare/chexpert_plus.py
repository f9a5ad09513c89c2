"""Build the CheXpert Plus report-generation test set from the Stanford AIMI release.

Inputs (credentialed; nothing of them is ever copied into this repository):
- ``df_chexpert_plus_240401.csv`` (any ``df_chexpert_plus_*.csv``): one row per image with
  path_to_image (``valid/patient64541/study1/view1_frontal.jpg``), path_to_dcm,
  frontal_lateral, ap_pa, deid_patient_id, the report and its sections
  (section_findings, section_impression, ...), split (``train`` / ``valid``);
- the images: ``PNG.zip`` extracted under the root (``PNG/valid/...png``, also
  ``PNG/PNG/...``), or files at path_to_image itself; the DICOM files (path_to_dcm) are used
  only with ``convert_dicom``.

Test split: CheXpert Plus has no official test split. Lingshu/MedEvalKit follow ReXrank and
use the release's ``valid`` split as the test set (MedEvalKit maintainers, GitHub
alibaba-damo-academy/MedEvalKit issue #1: "we use CheXpert-plus official validation set as
test set"); ``--split train`` selects ``train``.

Rules, checked in this order (the first that fails names the drop reason):
1. a study is the rows sharing ``patientN/studyM`` in path_to_image (``unrecognised_path``
   for a row whose path has no such part);
2. sections: the release's section_findings / section_impression of the study's first row
   (by path); when both are empty, FINDINGS/IMPRESSION are parsed from its ``report`` text
   (counted in the notes). ``no_findings_or_impression`` / ``missing_findings`` as for
   MIMIC-CXR (impression-only studies kept with ``keep_missing_findings``);
3. views: one frontal image (frontal_lateral == Frontal; ap_pa PA preferred over AP over
   other/empty; ties by path), then one lateral image (frontal_lateral == Lateral; ties by
   path) unless ``lateral=False``. ``no_frontal_view`` otherwise;
4. files: PNG/JPG found under the root (``image_missing`` when none of the frontal images
   exists); DICOM via path_to_dcm only with ``convert_dicom`` (``dicom_needs_convert``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.data.prepare.common import (
    Drops,
    PrepareOptions,
    PrepareSummary,
    Study,
    is_dicom,
    iter_table,
    require_dir,
    write_prepared,
)
from lingshu.data.prepare.sections import clean_text, parse_sections

DATASET = "chexpert-plus"
CSV_GLOB = "df_chexpert_plus_*.csv"
COLUMNS = (
    "path_to_image",
    "frontal_lateral",
    "ap_pa",
    "deid_patient_id",
    "split",
    "report",
    "section_findings",
    "section_impression",
)
SPLITS = {"test": "valid", "train": "train"}  # our split name -> the release's split value
AP_PA_RANK = {"PA": 0, "AP": 1}  # anything else ranks 2
_STUDY = re.compile(r"(patient\d+)/(study\d+)/")
_IMAGE_BASES = ("", "PNG", "PNG/PNG")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

RULES = {
    "split": "rows whose split column is 'valid' (the paper's test set, as in ReXrank) "
    "for --split test; 'train' for --split train",
    "sections": "the release's section_findings / section_impression; parsed from the report "
    "text (lingshu.data.prepare.sections) only when both are empty",
    "views": "one frontal image (ap_pa PA > AP > other, ties: path), then one lateral image "
    "if present (ties: path)",
    "files": "PNG/JPG under the root, PNG/ or PNG/PNG/ (either suffix); DICOM (path_to_dcm) "
    "converted to PNG only with --convert-dicom",
}


@dataclass
class _Row:
    path: str
    dcm: str
    frontal_lateral: str
    ap_pa: str
    patient: str
    findings: str
    impression: str
    report: str


def prepare_chexpert_plus(
    root: Path,
    out: Path,
    *,
    csv_file: Path | None = None,
    images: Path | None = None,
    options: PrepareOptions | None = None,
    **option_fields: Any,
) -> PrepareSummary:
    """Write ``out/<split>.jsonl`` + ``out/meta.json`` for the CheXpert Plus studies.
    Options: ``PrepareOptions`` (or its fields as keywords)."""
    opts = PrepareOptions.of(options, option_fields)
    opts.check_split(SPLITS)
    split = opts.split
    root = require_dir(Path(root), "CheXpert Plus root")
    table = Path(csv_file) if csv_file else _find_csv(root)
    image_root = require_dir(Path(images), "CheXpert Plus image") if images else root
    drops = Drops()
    studies = _read_studies(table, SPLITS[split], drops)

    kept: list[Study] = []
    parsed_from_report = 0
    for study_id in sorted(studies):
        rows = sorted(studies[study_id], key=lambda r: r.path)
        result = _build_study(
            study_id,
            rows,
            image_root,
            keep_missing_findings=opts.keep_missing_findings,
            lateral=opts.lateral,
            convert_dicom=opts.convert_dicom,
        )
        if isinstance(result, str):
            drops.add(result, study_id)
            continue
        study, from_report = result
        parsed_from_report += from_report
        kept.append(study)
    materialize = opts.copy_images or any(is_dicom(p) for s in kept for p in s.images)
    return write_prepared(
        Path(out),
        dataset=DATASET,
        split=split,
        studies=kept,
        image_root=image_root,
        drops=drops,
        materialize=materialize,
        rules={**RULES, **opts.rules()},
        options=opts.recorded(),
        inputs={"csv": str(table.absolute()), "images": str(image_root.absolute())},
        notes={"sections_parsed_from_report_text": parsed_from_report},
    )


def _find_csv(root: Path) -> Path:
    found = sorted(root.glob(CSV_GLOB))
    if not found:
        raise DataError(
            f"{root}: no {CSV_GLOB} (e.g. df_chexpert_plus_240401.csv); download it from the "
            "Stanford AIMI CheXpert Plus page or pass --csv FILE"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataError(f"{root}: several CheXpert Plus tables ({names}); pass one with --csv")
    return found[0]


def _read_studies(path: Path, release_split: str, drops: Drops) -> dict[str, list[_Row]]:
    studies: dict[str, list[_Row]] = {}
    for lineno, row in iter_table(path, COLUMNS, "CheXpert Plus table"):
        if (row["split"] or "").strip().lower() != release_split:
            continue
        image = (row["path_to_image"] or "").strip()
        m = _STUDY.search(image)
        if m is None:
            drops.add("unrecognised_path", f"{path.name}:{lineno}")
            continue
        studies.setdefault(f"{m.group(1)}_{m.group(2)}", []).append(
            _Row(
                path=image,
                dcm=(row.get("path_to_dcm") or "").strip(),
                frontal_lateral=(row["frontal_lateral"] or "").strip().lower(),
                ap_pa=(row["ap_pa"] or "").strip().upper(),
                patient=(row["deid_patient_id"] or "").strip() or m.group(1),
                findings=clean_text(row["section_findings"]),
                impression=clean_text(row["section_impression"]),
                report=row["report"] or "",
            )
        )
    if not studies and not drops.total:
        raise DataError(f"{path}: no rows with split == {release_split!r}")
    return studies


def _build_study(
    study_id: str,
    rows: list[_Row],
    image_root: Path,
    *,
    keep_missing_findings: bool,
    lateral: bool,
    convert_dicom: bool,
) -> tuple[Study, bool] | str:
    first = rows[0]
    findings, impression, from_report = first.findings, first.impression, False
    if not findings and not impression and first.report.strip():
        sections = parse_sections(first.report)
        findings, impression, from_report = sections.findings, sections.impression, True
    if not findings and not impression:
        return "no_findings_or_impression"
    if not findings and not keep_missing_findings:
        return "missing_findings"

    frontal = sorted(
        (r for r in rows if r.frontal_lateral == "frontal"),
        key=lambda r: (AP_PA_RANK.get(r.ap_pa, 2), r.path),
    )
    if not frontal:
        return "no_frontal_view"
    files = {r.path: _image_file(r, image_root, convert_dicom) for r in rows}
    usable = [r for r in frontal if files[r.path] is not None]
    if not usable:
        if not convert_dicom and any(_dicom_file(r, image_root) for r in frontal):
            return "dicom_needs_convert"
        return "image_missing"
    chosen = [usable[0]]
    if lateral:
        laterals = [r for r in rows if r.frontal_lateral == "lateral" and files[r.path]]
        chosen += laterals[:1]
    study = Study(
        study_id=study_id,
        subject_id=first.patient,
        images=[files[r.path] for r in chosen],  # type: ignore[misc]
        views=[_view_name(r) for r in chosen],
        findings=findings,
        impression=impression,
        extra={"source_paths": [r.path for r in chosen]},
    )
    return study, from_report


def _view_name(row: _Row) -> str:
    if row.frontal_lateral == "lateral":
        return "LATERAL"
    return row.ap_pa or "FRONTAL"


def _image_file(row: _Row, image_root: Path, convert_dicom: bool) -> Path | None:
    rel = Path(row.path)
    for base in _IMAGE_BASES:
        folder = image_root / base if base else image_root
        for candidate in (rel, *(rel.with_suffix(s) for s in _IMAGE_SUFFIXES)):
            p = folder / candidate
            if p.is_file():
                return p.absolute()
    return _dicom_file(row, image_root) if convert_dicom else None


def _dicom_file(row: _Row, image_root: Path) -> Path | None:
    if not row.dcm:
        return None
    for folder in (image_root, image_root / "DICOM"):
        p = folder / row.dcm
        if p.is_file():
            return p.absolute()
    return None
