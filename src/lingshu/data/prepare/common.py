"""What every report-dataset preparer shares: the study record, drop bookkeeping, reading
the releases' CSV tables, DICOM -> PNG conversion, and writing the prepared layout.

The prepared layout (read by ``lingshu.eval.benchmarks._reports``; docs/report-benchmarks.md):

    <out>/meta.json        format, dataset, split, image_root, counts (kept, dropped per reason),
                           the rules and options used, the input files
    <out>/<split>.jsonl    one study per line: study_id, subject_id, images (paths relative
                           to image_root, frontal first), views, findings, impression, ...
    <out>/images/...       only with --copy-images or --convert-dicom (image_root = "images")

Without copying, ``image_root`` is the absolute path of the release's image folder, so the
prepared folder holds no image and no pixel of a credentialed dataset is duplicated.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from lingshu import __version__
from lingshu.core.config import StrictModel, validate
from lingshu.core.errors import DataError, UserError
from lingshu.core.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

FORMAT_NAME = "lingshu-report-studies"
FORMAT_VERSION = 1
META_FILE = "meta.json"
IMAGES_DIR = "images"
DICOM_SUFFIXES = (".dcm", ".dicom")
_EXAMPLES_PER_REASON = 5


class PrepareOptions(StrictModel):
    """The choices every report-dataset preparer offers (and ``lingshu data prepare``'s
    flags, whose help texts are these descriptions)."""

    split: str = Field("test", description="which split of the release to build")
    keep_missing_findings: bool = Field(
        False, description="Keep studies whose report has no FINDINGS section, with the "
        "impression only (default: drop them, as report-generation benchmarks usually do).")
    lateral: bool = Field(True, description="Add one lateral image after the frontal one "
                          "when the study has it.")
    copy_images: bool = Field(
        False, description="Copy the chosen images under OUT/images/ (default: record the "
        "release's image folder in meta.json and copy nothing).")
    convert_dicom: bool = Field(
        False, description="Use DICOM files when no JPG/PNG exists, converted to PNG under "
        "OUT/images/ (VOI LUT / window applied, MONOCHROME1 inverted).")

    @classmethod
    def of(cls, options: PrepareOptions | None, fields: dict[str, Any]) -> PrepareOptions:
        """``options`` updated with keyword ``fields`` (a preparer's ``**options``)."""
        base = options.model_dump() if options is not None else {}
        return validate(cls, {**base, **fields}, where="prepare options")

    def check_split(self, splits: Iterable[str]) -> None:
        if self.split not in splits:
            raise UserError(f"--split {self.split!r}: expected one of {list(splits)}")

    def rules(self) -> dict[str, str]:
        """What the options change, in words, for ``meta.json``'s rules."""
        return {
            "missing_findings": "kept with the impression only"
            if self.keep_missing_findings else "dropped",
            "lateral": "included when present" if self.lateral else "not included",
        }

    def recorded(self, *, dicom: bool = True) -> dict[str, Any]:
        """The options as ``meta.json`` records them (without convert_dicom where the
        release has no DICOM)."""
        return self.model_dump(exclude=None if dicom else {"convert_dicom"})


@dataclass
class Study:
    """One study ready to be written: images are absolute source paths, frontal first."""

    study_id: str
    subject_id: str
    images: list[Path]
    views: list[str]
    findings: str
    impression: str
    extra: dict[str, Any] = field(default_factory=dict)


class Drops:
    """Why studies were left out: a count per reason and the first few study ids of each,
    so that every number in the summary can be checked by hand."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, reason: str, study_id: str) -> None:
        self.counts[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < _EXAMPLES_PER_REASON:
            ex.append(study_id)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class PrepareSummary:
    """What ``prepare`` did; the same numbers are in ``meta.json``."""

    dataset: str
    split: str
    out_dir: Path
    data_file: Path
    kept: int
    dropped: dict[str, int]
    notes: dict[str, int]
    image_root: str

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line (printed by the CLI)."""
        out = [f"{self.dataset} ({self.split}): kept {self.kept} studies -> {self.data_file}"]
        total = sum(self.dropped.values())
        out.append(f"dropped {total} studies" + (":" if total else ""))
        for reason, n in sorted(self.dropped.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  {reason}: {n}")
        for note, n in sorted(self.notes.items()):
            out.append(f"note: {note}: {n}")
        out.append(f"images are read from {self.image_root}")
        return out


# ---- reading the releases' files ----------------------------------------------------------


def first_existing(root: Path, names: Iterable[str]) -> Path | None:
    for name in names:
        p = Path(root) / name
        if p.exists():
            return p
    return None


def open_text(path: Path) -> io.TextIOBase:
    """Open a text table, gunzipping ``*.gz`` (PhysioNet ships its CSVs gzipped)."""
    path = Path(path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def iter_table(
    path: Path, required: Iterable[str], what: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` of a CSV with a header, checking ``required`` columns.

    Errors name the file, the line and what was expected: a missing file, missing columns,
    bytes that are not UTF-8, a gzip file that is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected the {what}")
    required = list(required)
    lineno = 1
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {missing}; expected the {what} with columns "
                    f"{required} (found {header[:12]})"
                )
            for row in reader:
                lineno = reader.line_num
                yield lineno, row
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: not UTF-8 text (after line {lineno}); expected the {what} as released"
        ) from None
    except (OSError, EOFError, csv.Error) as e:
        raise DataError(
            f"{path}: cannot be read after line {lineno} ({e}); re-download the {what}"
        ) from None


def decode_report(data: bytes) -> str | None:
    """Report text, or None when it is not UTF-8 (the study is then dropped with a reason
    rather than guessed at with another encoding)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


# ---- images -------------------------------------------------------------------------------


def is_dicom(path: Path) -> bool:
    return Path(path).suffix.lower() in DICOM_SUFFIXES


def dicom_to_png(src: Path, dest: Path) -> None:
    """Write a DICOM image as an 8-bit greyscale PNG, the way a radiologist would see it.

    Decoding is :func:`lingshu.models.medical_images.read_dicom`, the same code that shows
    DICOM files to models: the modality LUT (rescale slope/intercept), then the VOI LUT or
    the window (Window Center/Width) mapped onto 0..255 when the file has one, else a
    linear rescale of the image's minimum..maximum; MONOCHROME1 images (where low values
    are white) are inverted so that air is black as in every JPG/PNG release. Multi-frame
    files keep their first frame. Raises ``DataError`` naming the file when it cannot be
    decoded.
    """
    from lingshu.core.errors import SampleError
    from lingshu.models import read_dicom

    try:
        image = read_dicom(src, frame=0).convert("L")  # equal R=G=B: conversion is exact
    except SampleError as e:
        # read_dicom's message names the file and the cause; keep the wording callers
        # of this function have always seen in front.
        detail = str(e).removeprefix(f"{src}: ").removeprefix("not a readable DICOM file ")
        if not detail.startswith("("):
            detail = f"({detail})"
        raise DataError(f"{src}: not a readable DICOM image {detail}") from None
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    image.save(tmp, format="PNG")
    tmp.replace(dest)


def _materialize(src: Path, image_root: Path, out_dir: Path) -> str:
    """Copy (or convert) ``src`` under ``out_dir/images/`` mirroring its path below
    ``image_root``; return the path relative to ``out_dir/images``."""
    try:
        rel = src.relative_to(image_root)
    except ValueError:
        rel = Path(src.name)
    if is_dicom(src):
        rel = rel.with_suffix(".png")
        dest = out_dir / IMAGES_DIR / rel
        if not dest.exists():
            dicom_to_png(src, dest)
    else:
        dest = out_dir / IMAGES_DIR / rel
        if not dest.exists() or dest.stat().st_size != src.stat().st_size:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    return rel.as_posix()


# ---- writing --------------------------------------------------------------------------------


def write_prepared(
    out_dir: Path,
    *,
    dataset: str,
    split: str,
    studies: list[Study],
    image_root: Path,
    drops: Drops,
    materialize: bool,
    rules: dict[str, str],
    options: dict[str, Any],
    inputs: dict[str, str],
    notes: dict[str, int] | None = None,
) -> PrepareSummary:
    """Write ``<split>.jsonl`` and ``meta.json`` (atomically) and return the summary.

    ``materialize`` copies every image (converting DICOM to PNG) under ``out_dir/images``;
    a DICOM file that cannot be converted drops its study (``image_unreadable``). ``notes``
    are counts about kept studies that the summary shows (e.g. sections parsed from text).
    """
    import json

    from tqdm import tqdm

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: --out must be a folder, not a file")
    out_dir.mkdir(parents=True, exist_ok=True)
    image_root = Path(image_root).absolute()
    lines: list[str] = []
    kept_without_impression = 0
    for study in tqdm(studies, desc=f"writing {dataset}", disable=len(studies) < 200):
        if materialize:
            try:
                rels = [_materialize(p, image_root, out_dir) for p in study.images]
            except DataError as e:
                log.warning("%s: dropped study %s: %s", dataset, study.study_id, e)
                drops.add("image_unreadable", study.study_id)
                continue
        else:
            rels = [_relative_or_absolute(p, image_root) for p in study.images]
        record = {
            "study_id": study.study_id,
            "subject_id": study.subject_id,
            "images": rels,
            "views": study.views,
            "findings": study.findings,
            "impression": study.impression,
            **study.extra,
        }
        kept_without_impression += not study.impression
        lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
    data_file = out_dir / f"{split}.jsonl"
    atomic_write_text(data_file, "".join(line + "\n" for line in lines))
    root_text = IMAGES_DIR if materialize else str(image_root)
    notes = {**(notes or {}), "kept_without_impression": kept_without_impression}
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "dataset": dataset,
        "split": split,
        "data_file": data_file.name,
        "image_root": root_text,
        "counts": {
            "candidates": len(lines) + drops.total,
            "kept": len(lines),
            "dropped": dict(sorted(drops.counts.items())),
            **notes,
        },
        "dropped_examples": dict(sorted(drops.examples.items())),
        "rules": rules,
        "options": options,
        "inputs": inputs,
        "created_by": f"lingshu {__version__}",
    }
    atomic_write_json(out_dir / META_FILE, meta)
    return PrepareSummary(
        dataset=dataset,
        split=split,
        out_dir=out_dir,
        data_file=data_file,
        kept=len(lines),
        dropped=dict(drops.counts),
        notes=notes,
        image_root=str(out_dir / IMAGES_DIR) if materialize else str(image_root),
    )


def _relative_or_absolute(path: Path, root: Path) -> str:
    try:
        return Path(path).absolute().relative_to(root).as_posix()
    except ValueError:
        return str(Path(path).absolute())


def require_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        hint = (
            f"; it is a file: extract it first (e.g. `tar xzf {path}` or "
            f"`python -m zipfile -e {path} DEST`) and pass the folder"
            if path.is_file()
            else ""
        )
        raise DataError(f"{path}: {what} folder not found{hint}")
    return path
