"""The folder readers: ``image_folder`` and ``dicom_folder`` (one record per file).

Kept apart from ``readers.py`` (the row formats) so each module stays readable; both
register in the one ``READERS`` registry. ``folder_files`` is the read order, which the
read step's pieces (``read_pieces.py``) cut into chunks a worker reads alone: keys are
paths relative to the folder, so a chunk's records are the ones the whole read gives.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.data.curate.readers import (
    IMAGE_EXTS,
    Item,
    ReaderContext,
    read_row_exclusion,
    register_reader,
)
from lingshu.data.curate.record import conversation

DICOM_TAGS = (
    "Modality", "BodyPartExamined", "StudyDescription", "SeriesDescription", "ViewPosition",
    "PhotometricInterpretation", "Rows", "Columns", "ContrastBolusAgent", "ImageType",
)
"""DICOM metadata kept in ``meta.dicom``: acquisition facts only, never patient tags."""


@register_reader("image_folder")
def _read_image_folder(ctx: ReaderContext) -> Iterator[Item]:
    """Every image under the folder; a ``.txt`` beside an image is its caption (task
    caption); the parent folder name is kept as ``meta.label``."""
    for p in _chunk(folder_files("image_folder", ctx.path), ctx.piece):
        rel = p.relative_to(ctx.path).as_posix()
        side = p.with_suffix(".txt")
        caption, task = "", "image"
        if side.exists():
            try:
                caption, task = side.read_text(encoding="utf-8").strip(), "caption"
            except UnicodeDecodeError:
                yield read_row_exclusion(ctx.spec.name, rel, "caption file is not UTF-8")
                continue
        meta = {"label": p.parent.name} if p.parent != ctx.path else {}
        yield ctx.record(rel, conversation("Describe this image.", caption, [str(p)]),
                         task=task, meta=meta)


def folder_files(fmt: str, path: Path) -> list[Path]:
    """The files an ``image_folder`` / ``dicom_folder`` input reads, in read order."""
    if fmt == "image_folder":
        return sorted(x for x in path.rglob("*") if x.suffix.lower() in IMAGE_EXTS)
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                  (".dcm", ".dicom", ""))


def _chunk(files: list[Path], piece: dict[str, Any] | None) -> list[Path]:
    return files if piece is None else files[piece["first"]:piece["first"] + piece["count"]]


@register_reader("dicom_folder")
def _read_dicom_folder(ctx: ReaderContext) -> Iterator[Item]:
    """DICOM files -> PNG (the viewer pipeline of ``lingshu.models.read_dicom``) plus the
    acquisition metadata in ``meta.dicom`` (modality labelling reads it)."""
    import pydicom

    from lingshu.models import read_dicom

    for p in _chunk(folder_files("dicom_folder", ctx.path), ctx.piece):
        rel = p.relative_to(ctx.path).as_posix()
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
            img = read_dicom(p)
        except Exception as e:  # noqa: BLE001 - any decoder failure excludes this file only
            yield read_row_exclusion(ctx.spec.name, rel, f"unreadable DICOM: {type(e).__name__}: {e}")
            continue
        meta = {}
        for tag in DICOM_TAGS:
            v = ds.get(tag)
            if v is not None and v != "":
                meta[tag] = [str(x) for x in v] if isinstance(v, pydicom.multival.MultiValue) \
                    else (int(v) if isinstance(v, int) else str(v))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        png = ctx.save_bytes(buf.getvalue(), ".png")
        yield ctx.record(rel, conversation("Describe this image.", "", [png]), task="image",
                         meta={"dicom": meta, "original": str(p)})
