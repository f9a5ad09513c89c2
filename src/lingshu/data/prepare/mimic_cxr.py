"""Build the MIMIC-CXR report-generation test set from the official PhysioNet files.

Inputs (PhysioNet, credentialed; nothing of them is ever copied into this repository):
- ``mimic-cxr-2.0.0-split.csv(.gz)``: dicom_id, study_id, subject_id, split
  (train / validate / test);
- ``mimic-cxr-2.0.0-metadata.csv(.gz)``: dicom_id, subject_id, study_id, ViewPosition, ...;
- the reports ``files/p10/p10000032/s50414267.txt`` (the folder, or ``mimic-cxr-reports.zip``,
  read in place without extracting it);
- the images ``files/p10/p10000032/s50414267/<dicom_id>.jpg`` (MIMIC-CXR-JPG) or ``.dcm``
  (MIMIC-CXR; converted to PNG with ``convert_dicom``).

Rules, checked in this order; the first that fails names the drop reason:
1. split: the study's images have ``split == <split>`` in the split CSV (default test);
2. ``report_missing``: no report file for the study; ``report_not_utf8``: not UTF-8 text;
3. sections (``lingshu.data.prepare.sections``): ``no_findings_or_impression`` when both are
   absent; ``missing_findings`` when FINDINGS is absent (kept with the impression only when
   ``keep_missing_findings``); a missing IMPRESSION keeps the study (counted in the notes);
4. views (from ViewPosition): one frontal image, PA preferred over AP, ties broken by the
   smallest dicom_id; then, unless ``lateral=False``, one lateral image, LATERAL preferred over
   LL, same tie rule. Other positions (AP AXIAL, LAO, SWIMMERS, ...) are never chosen.
   ``no_frontal_view``: no PA/AP image in the metadata;
5. files: a JPG/PNG is preferred over a DICOM of the same image. ``image_missing``: no file of
   any frontal image exists; ``dicom_needs_convert``: only DICOM files exist and
   ``convert_dicom`` is off. An absent lateral file only leaves the lateral out.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.data.prepare.common import (
    Drops,
    PrepareOptions,
    PrepareSummary,
    Study,
    decode_report,
    first_existing,
    is_dicom,
    iter_table,
    require_dir,
    write_prepared,
)
from lingshu.data.prepare.sections import parse_sections

DATASET = "mimic-cxr"
SPLIT_FILES = ("mimic-cxr-2.0.0-split.csv.gz", "mimic-cxr-2.0.0-split.csv")
METADATA_FILES = ("mimic-cxr-2.0.0-metadata.csv.gz", "mimic-cxr-2.0.0-metadata.csv")
REPORTS_ZIP = "mimic-cxr-reports.zip"
SPLIT_COLUMNS = ("dicom_id", "study_id", "subject_id", "split")
METADATA_COLUMNS = ("dicom_id", "subject_id", "study_id", "ViewPosition")
SPLITS = ("test", "validate", "train")
FRONTAL_RANK = {"PA": 0, "AP": 1}  # PA: better-quality standing film, the usual reference view
LATERAL_RANK = {"LATERAL": 0, "LL": 1}
IMAGE_SUFFIXES = (".jpg", ".png", ".dcm")  # preference order for one dicom_id
_REPORT_TAIL = re.compile(r"(p\d{2}/p\d+/s\d+\.txt)$")

RULES = {
    "split": "rows of mimic-cxr-2.0.0-split.csv whose split column equals the chosen split",
    "sections": "FINDINGS and IMPRESSION parsed from the report text "
    "(lingshu.data.prepare.sections; docs/report-benchmarks.md)",
    "views": "one frontal image (ViewPosition PA preferred over AP, ties: smallest dicom_id), "
    "then one lateral image if present (LATERAL preferred over LL, ties: smallest dicom_id)",
    "files": "JPG/PNG preferred over DICOM; DICOM converted to PNG only with --convert-dicom",
}


@dataclass
class _StudyRows:
    subject_id: str
    dicom_ids: list[str] = field(default_factory=list)


def prepare_mimic_cxr(
    mimic_root: Path,
    out: Path,
    *,
    reports: Path | None = None,
    images: Path | None = None,
    options: PrepareOptions | None = None,
    **option_fields: Any,
) -> PrepareSummary:
    """Write ``out/<split>.jsonl`` + ``out/meta.json`` for the MIMIC-CXR studies of ``split``.

    ``reports`` defaults to ``mimic_root/mimic-cxr-reports.zip`` when present, else the
    ``files/`` tree under ``mimic_root``; ``images`` defaults to ``mimic_root``. Options:
    ``PrepareOptions`` (or its fields as keywords: ``split="test"``, ``lateral=False`` ...).
    """
    opts = PrepareOptions.of(options, option_fields)
    opts.check_split(SPLITS)
    split = opts.split
    root = require_dir(Path(mimic_root), "MIMIC-CXR root")
    split_csv = _required_file(root, SPLIT_FILES, "split CSV")
    metadata_csv = _required_file(root, METADATA_FILES, "metadata CSV")
    studies = _read_split(split_csv, split)
    views = _read_views(metadata_csv, {d for s in studies.values() for d in s.dicom_ids})
    report_source = _ReportSource.open(reports, root)
    image_root = require_dir(Path(images), "MIMIC-CXR image") if images else root

    drops = Drops()
    kept: list[Study] = []
    for study_id in sorted(studies, key=int):
        rows = studies[study_id]
        reason_or_study = _build_study(
            study_id,
            rows,
            views,
            report_source,
            image_root,
            keep_missing_findings=opts.keep_missing_findings,
            lateral=opts.lateral,
            convert_dicom=opts.convert_dicom,
        )
        if isinstance(reason_or_study, str):
            drops.add(reason_or_study, study_id)
        else:
            kept.append(reason_or_study)
    report_source.close()
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
        inputs={
            "split_csv": str(split_csv.absolute()),
            "metadata_csv": str(metadata_csv.absolute()),
            "reports": report_source.describe(),
            "images": str(image_root.absolute()),
        },
    )


def _required_file(root: Path, names: tuple[str, ...], what: str) -> Path:
    found = first_existing(root, names)
    if found is None:
        raise DataError(
            f"{root}: no MIMIC-CXR {what} ({' or '.join(names)}); download it from "
            "https://physionet.org/content/mimic-cxr-jpg/ (it sits at the top of the release)"
        )
    return found


def _read_split(path: Path, split: str) -> dict[str, _StudyRows]:
    studies: dict[str, _StudyRows] = {}
    for lineno, row in iter_table(path, SPLIT_COLUMNS, "MIMIC-CXR split CSV"):
        if (row["split"] or "").strip() != split:
            continue
        dicom_id, study_id, subject_id = (
            (row[c] or "").strip() for c in ("dicom_id", "study_id", "subject_id")
        )
        if not (dicom_id and study_id.isdigit() and subject_id.isdigit()):
            raise DataError(
                f"{path}:{lineno}: expected dicom_id and numeric study_id/subject_id, got "
                f"{dicom_id!r}, {study_id!r}, {subject_id!r}; re-download the split CSV"
            )
        entry = studies.setdefault(study_id, _StudyRows(subject_id))
        entry.dicom_ids.append(dicom_id)
    if not studies:
        raise DataError(f"{path}: no rows with split == {split!r}; is this the split CSV?")
    return studies


def _read_views(path: Path, wanted: set[str]) -> dict[str, str]:
    """``dicom_id -> ViewPosition`` (upper case, "" when the field is empty)."""
    views: dict[str, str] = {}
    for _, row in iter_table(path, METADATA_COLUMNS, "MIMIC-CXR metadata CSV"):
        dicom_id = (row["dicom_id"] or "").strip()
        if dicom_id in wanted:
            views[dicom_id] = " ".join((row["ViewPosition"] or "").upper().split())
    return views


def _build_study(
    study_id: str,
    rows: _StudyRows,
    views: dict[str, str],
    reports: _ReportSource,
    image_root: Path,
    *,
    keep_missing_findings: bool,
    lateral: bool,
    convert_dicom: bool,
) -> Study | str:
    """The study to keep, or the reason (a str) to drop it."""
    subject = rows.subject_id
    data = reports.read(subject, study_id)
    if data is None:
        return "report_missing"
    text = decode_report(data)
    if text is None:
        return "report_not_utf8"
    sections = parse_sections(text)
    if not sections.findings and not sections.impression:
        return "no_findings_or_impression"
    if not sections.findings and not keep_missing_findings:
        return "missing_findings"

    frontal = _ranked(rows.dicom_ids, views, FRONTAL_RANK)
    if not frontal:
        return "no_frontal_view"
    study_dir = Path(f"p{subject[:2]}") / f"p{subject}" / f"s{study_id}"
    files = {d: _image_file(image_root, study_dir, d) for d in rows.dicom_ids}
    usable = {
        d: f for d, f in files.items() if f is not None and (convert_dicom or not is_dicom(f))
    }
    chosen = [d for d in frontal if d in usable][:1]
    if not chosen:
        if any(files[d] is not None for d in frontal):
            return "dicom_needs_convert"
        return "image_missing"
    if lateral:
        chosen += [d for d in _ranked(rows.dicom_ids, views, LATERAL_RANK) if d in usable][:1]
    return Study(
        study_id=study_id,
        subject_id=subject,
        images=[usable[d] for d in chosen],
        views=[views[d] for d in chosen],
        findings=sections.findings,
        impression=sections.impression,
        extra={"dicom_ids": chosen},
    )


def _ranked(dicom_ids: list[str], views: dict[str, str], rank: dict[str, int]) -> list[str]:
    """The study's dicom ids whose view is in ``rank``, best first (ties: dicom_id)."""
    hits = [d for d in dicom_ids if views.get(d, "") in rank]
    return sorted(hits, key=lambda d: (rank[views[d]], d))


def _image_file(image_root: Path, study_dir: Path, dicom_id: str) -> Path | None:
    for base in (image_root / "files" / study_dir, image_root / study_dir):
        for suffix in IMAGE_SUFFIXES:
            p = base / f"{dicom_id}{suffix}"
            if p.is_file():
                return p.absolute()
    return None


class _ReportSource:
    """Report bytes by (subject, study), from the ``files/`` tree or from the zip in place."""

    def __init__(self, folder: Path | None, archive: Path | None) -> None:
        self.folder = folder
        self.archive = archive
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}
        if archive is not None:
            try:
                self._zip = zipfile.ZipFile(archive)
            except (zipfile.BadZipFile, OSError) as e:
                raise DataError(f"{archive}: not a readable zip archive ({e})") from None
            for name in self._zip.namelist():
                m = _REPORT_TAIL.search(name)
                if m:
                    self._names[m.group(1)] = name
            if not self._names:
                raise DataError(
                    f"{archive}: no report files (files/pXX/pNNNNNNNN/sNNNNNNNN.txt) inside; "
                    "expected mimic-cxr-reports.zip from PhysioNet"
                )

    @classmethod
    def open(cls, reports: Path | None, root: Path) -> _ReportSource:
        if reports is None:
            zipped = root / REPORTS_ZIP
            return cls(None, zipped) if zipped.is_file() else cls(root, None)
        reports = Path(reports)
        if reports.is_file():
            return cls(None, reports)
        if reports.is_dir():
            return cls(reports, None)
        raise DataError(
            f"{reports}: --reports not found; expected the reports folder or {REPORTS_ZIP}"
        )

    def read(self, subject: str, study: str) -> bytes | None:
        rel = f"p{subject[:2]}/p{subject}/s{study}.txt"
        if self._zip is not None:
            name = self._names.get(rel)
            return None if name is None else self._zip.read(name)
        assert self.folder is not None
        for p in (self.folder / "files" / rel, self.folder / rel):
            if p.is_file():
                return p.read_bytes()
        return None

    def describe(self) -> str:
        return str((self.archive or self.folder or Path()).absolute())

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
