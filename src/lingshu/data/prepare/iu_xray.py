"""Build the IU-Xray report-generation test set from the Open-i (NLMCXR) release.

Inputs (Open-i, https://openi.nlm.nih.gov/faq#collection, CC BY-NC-ND 4.0):
- ``NLMCXR_reports.tgz`` (or its extracted ``ecgen-radiology/`` folder): one XML file per
  report with ``<AbstractText Label="FINDINGS">``, ``<AbstractText Label="IMPRESSION">``,
  INDICATION, COMPARISON, MeSH terms and one ``<parentImage id="CXR1_1_IM-0001-3001">`` per
  image; the archive is read in place, never extracted;
- the PNGs of ``NLMCXR_png.tgz`` extracted into one folder (``CXR1_1_IM-0001-3001.png``;
  the Kaggle copy's ``images_normalized/1_IM-0001-3001.dcm.png`` names are matched too).

Split. Open-i has no official split. MedEvalKit's IU-Xray has 296 studies: MedEvalKit's
maintainers say they follow ReXrank's splits (alibaba-damo-academy/MedEvalKit issue #1), and
296 is the size of ReXrank's *validation* file ``ReXRank_IUXray_valid.json`` (= R2Gen's val
split; ReXrank's test file ``ReXRank_IUXray_test.json`` has R2Gen's 590 test studies). Those
lists were drawn at random by R2Gen (Chen et al., EMNLP 2020; 7:1:2 train/val/test); no rule
reproduces them, so:
- ``split_file`` reproduces any published list: an R2Gen ``annotation.json``
  (``{"train": [{"id": "CXR2384_IM-0942", ...}], "val": [...], "test": [...]}``; the part
  named by ``split``), a ReXrank JSON (its keys), or a text file with one id per line. Ids are
  matched to reports by their number (``CXR2384_IM-0942`` -> report 2384). Use
  ``ReXRank_IUXray_valid.json`` for MedEvalKit's 296 studies.
- without it, a deterministic 7:1:2 split by report number: bucket =
  sha256("iu-xray:<number>") mod 10; 0-6 train, 7 val, 8-9 test. It has R2Gen's proportions
  but NOT R2Gen's membership: numbers are not comparable with published ones.
  ``split="all"`` keeps every report.

Image order. The XML gives no view per image (captions describe the study, e.g. "Xray Chest
PA and Lateral"; MeSH terms describe findings), so images keep the report's order
(figureId F1, F2, ...), which is frontal first for most studies. With ``projections`` (the
``indiana_projections.csv`` of the Kaggle copy: uid, filename, projection) the images are
one frontal (the first labelled Frontal) then one lateral (the first labelled Lateral).

Drop reasons, in this order: ``no_images`` (the report lists no image),
``no_findings_or_impression``, ``missing_findings`` (kept with ``keep_missing_findings``),
``no_frontal_view`` (only with projections), ``image_missing`` (a needed PNG is absent).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.data.prepare.common import (
    Drops,
    PrepareOptions,
    PrepareSummary,
    Study,
    iter_table,
    require_dir,
    write_prepared,
)
from lingshu.data.prepare.sections import clean_text

DATASET = "iu-xray"
SPLITS = ("test", "val", "train", "all")
HASH_BUCKETS = {"train": range(0, 7), "val": range(7, 8), "test": range(8, 10)}
PROJECTION_COLUMNS = ("uid", "filename", "projection")
_NUMBER = re.compile(r"CXR(\d+)", re.IGNORECASE)

RULES = {
    "sections": "<AbstractText Label=FINDINGS/IMPRESSION> of each report XML, whitespace collapsed",
    "images": "every <parentImage> of the report in the report's order (figureId F1, F2, ...); "
    "with --projections: the first Frontal then the first Lateral image",
}


@dataclass
class IuReport:
    """One Open-i report as the XML gives it (text already whitespace-collapsed)."""

    uid: str  # "CXR1"
    number: int  # 1
    findings: str
    impression: str
    indication: str
    comparison: str
    image_ids: list[str]
    mesh_major: list[str] = field(default_factory=list)
    source: str = ""


def read_iu_reports(reports: Path) -> list[IuReport]:
    """Every report of ``reports`` (a folder of XML files, searched recursively, or the
    ``NLMCXR_reports.tgz`` archive read in place), sorted by report number."""
    reports = Path(reports)
    out = [_parse_report(name, data) for name, data in _iter_xml(reports)]
    if not out:
        raise DataError(
            f"{reports}: no report XML files found; expected NLMCXR_reports.tgz or its "
            "ecgen-radiology/ folder from Open-i"
        )
    seen: set[int] = set()
    for r in out:
        if r.number in seen:
            raise DataError(f"{r.source}: report {r.uid} occurs twice; keep one copy of each XML")
        seen.add(r.number)
    return sorted(out, key=lambda r: r.number)


def prepare_iu_xray(
    reports: Path,
    images: Path,
    out: Path,
    *,
    split_file: Path | None = None,
    projections: Path | None = None,
    options: PrepareOptions | None = None,
    **option_fields: Any,
) -> PrepareSummary:
    """Write ``out/<split>.jsonl`` + ``out/meta.json`` for the IU-Xray reports of ``split``.
    Options: ``PrepareOptions`` (or its fields as keywords); the release has no DICOM, so
    ``convert_dicom`` does nothing here."""
    opts = PrepareOptions.of(options, option_fields)
    opts.check_split(SPLITS)
    split = opts.split
    all_reports = read_iu_reports(reports)
    image_dir = require_dir(Path(images), "IU-Xray PNG")
    pngs = {image_key(p.name): p.absolute() for p in image_dir.rglob("*.png")}
    views = _read_projections(Path(projections)) if projections else None
    members = _split_members(Path(split_file), split) if split_file else None
    in_split = [
        r
        for r in all_reports
        if (r.number in members if members is not None else _in_hash_split(r.number, split))
    ]
    if members is not None and len(in_split) < len(members):
        missing = sorted(members - {r.number for r in in_split})[:5]
        raise DataError(
            f"{split_file}: {len(members) - len(in_split)} listed ids have no report in "
            f"{reports} (e.g. CXR{missing[0]}); is the report archive complete?"
        )

    drops = Drops()
    kept: list[Study] = []
    for report in in_split:
        result = _build_study(report, pngs, views, opts.keep_missing_findings, opts.lateral)
        if isinstance(result, str):
            drops.add(result, report.uid)
        else:
            kept.append(result)
    return write_prepared(
        Path(out),
        dataset=DATASET,
        split=split,
        studies=kept,
        image_root=image_dir,
        drops=drops,
        materialize=opts.copy_images,
        rules={
            **RULES,
            "split": (
                f"ids listed in {Path(split_file).name} ({split} part for an R2Gen annotation.json)"
                if split_file
                else "all reports"
                if split == "all"
                else "sha256('iu-xray:<report number>') mod 10: 0-6 train, 7 val, 8-9 test "
                "(R2Gen's proportions, not R2Gen's membership)"
            ),
            "missing_findings": opts.rules()["missing_findings"],
        },
        options={
            "split": split,
            "split_file": str(split_file) if split_file else None,
            "projections": str(projections) if projections else None,
            **opts.recorded(dicom=False),
        },
        inputs={"reports": str(Path(reports).absolute()), "images": str(image_dir.absolute())},
        notes={"reports_read": len(all_reports), "reports_in_split": len(in_split)},
    )


# ---- reading ------------------------------------------------------------------------------


def _iter_xml(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for p in sorted(path.rglob("*.xml")):
            yield str(p), p.read_bytes()
        return
    if not path.is_file():
        raise DataError(f"{path}: --reports not found; expected NLMCXR_reports.tgz or a folder")
    try:
        with tarfile.open(path) as tf:
            for member in tf:
                if member.isfile() and member.name.endswith(".xml"):
                    fh = tf.extractfile(member)
                    if fh is not None:
                        yield f"{path}:{member.name}", fh.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(
            f"{path}: not a readable tar archive ({e}); expected NLMCXR_reports.tgz"
        ) from None


def _parse_report(name: str, data: bytes) -> IuReport:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise DataError(f"{name}: not valid XML ({e}); re-download NLMCXR_reports.tgz") from None
    uid_el = root.find("uId")
    uid = (uid_el.get("id") if uid_el is not None else None) or Path(name).stem
    m = _NUMBER.fullmatch(uid) or re.fullmatch(r"(\d+)", Path(name.split(":")[-1]).stem)
    if m is None:
        raise DataError(f"{name}: cannot read the report number (uId {uid!r}); expected CXR<n>")
    number = int(m.group(1))
    labelled = {
        (el.get("Label") or "").upper(): clean_text("".join(el.itertext()))
        for el in root.iter("AbstractText")
    }
    return IuReport(
        uid=f"CXR{number}",
        number=number,
        findings=labelled.get("FINDINGS", ""),
        impression=labelled.get("IMPRESSION", ""),
        indication=labelled.get("INDICATION", ""),
        comparison=labelled.get("COMPARISON", ""),
        image_ids=[p.get("id", "") for p in root.findall("parentImage") if p.get("id")],
        mesh_major=[clean_text(e.text) for e in root.findall("MeSH/major") if clean_text(e.text)],
        source=name,
    )


def _split_members(path: Path, split: str) -> set[int]:
    """Report numbers listed in an R2Gen annotation.json, a ReXrank JSON or an id list."""
    if not path.is_file():
        raise DataError(f"{path}: --split-file not found")
    text = path.read_text(encoding="utf-8")
    ids: list[str]
    if text.lstrip()[:1] == "{":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
        if {"train", "val", "test"} & set(data) and isinstance(next(iter(data.values())), list):
            parts = ["train", "val", "test"] if split == "all" else [split]
            if any(p not in data for p in parts):
                raise DataError(f"{path}: no {split!r} list; this annotation has {sorted(data)}")
            ids = [str(item.get("id", "")) for p in parts for item in data[p]]
        else:
            ids = list(data)  # ReXrank: {study id: {...}}
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    numbers: set[int] = set()
    for i in ids:
        m = _NUMBER.search(i) or re.fullmatch(r"(\d+)", i)
        if m is None:
            raise DataError(f"{path}: id {i!r} does not name a report (expected CXR<n>...)")
        numbers.add(int(m.group(1)))
    if not numbers:
        raise DataError(f"{path}: lists no ids")
    return numbers


def _in_hash_split(number: int, split: str) -> bool:
    if split == "all":
        return True
    bucket = int(hashlib.sha256(f"iu-xray:{number}".encode()).hexdigest(), 16) % 10
    return bucket in HASH_BUCKETS[split]


def image_key(name: str) -> str:
    """One spelling for an image across releases: ``CXR1_1_IM-0001-3001`` (Open-i XML/PNG)
    and ``1_IM-0001-3001.dcm.png`` (Kaggle) both become ``1_IM-0001-3001``."""
    stem = re.sub(r"(\.dcm)?\.png$", "", Path(name).name, flags=re.IGNORECASE)
    stem = re.sub(r"^CXR", "", stem, flags=re.IGNORECASE)
    return re.sub(r"^(\d+)_\1_", r"\1_", stem)


def _read_projections(path: Path) -> dict[str, str]:
    views: dict[str, str] = {}
    for _, row in iter_table(path, PROJECTION_COLUMNS, "IU-Xray projections CSV"):
        views[image_key(row["filename"] or "")] = (row["projection"] or "").strip().upper()
    return views


# ---- one study ----------------------------------------------------------------------------


def _build_study(
    report: IuReport,
    pngs: dict[str, Path],
    views: dict[str, str] | None,
    keep_missing_findings: bool,
    lateral: bool,
) -> Study | str:
    if not report.image_ids:
        return "no_images"
    if not report.findings and not report.impression:
        return "no_findings_or_impression"
    if not report.findings and not keep_missing_findings:
        return "missing_findings"
    if views is None:
        chosen = list(report.image_ids)
        chosen_views = ["" for _ in chosen]
    else:
        labelled = [(i, views.get(image_key(i), "")) for i in report.image_ids]
        frontal = [i for i, v in labelled if v == "FRONTAL"][:1]
        if not frontal:
            return "no_frontal_view"
        side = [i for i, v in labelled if v == "LATERAL"][:1] if lateral else []
        chosen = frontal + side
        chosen_views = ["FRONTAL"] + ["LATERAL"] * len(side)
    if any(image_key(i) not in pngs for i in chosen):
        return "image_missing"
    normal = report.mesh_major == ["normal"]
    return Study(
        study_id=report.uid,
        subject_id=report.uid,  # Open-i gives no patient id; one report = one patient visit
        images=[pngs[image_key(i)] for i in chosen],
        views=chosen_views,
        findings=report.findings,
        impression=report.impression,
        extra={
            "image_ids": chosen,
            "indication": report.indication,
            "comparison": report.comparison,
            "mesh_major": report.mesh_major,
            "categories": {"mesh": "normal" if normal else "abnormal"},
        },
    )
