"""Fake releases in the datasets' exact formats, built in temporary folders (pytest fixtures
re-exported by conftest.py; helpers imported by the tests).

The texts and tables come from ``tests/fixtures/reports/`` (invented data, official layout);
the images are generated here: JPG/PNG with PIL, DICOM with pydicom. Each builder returns the
release root, with the exceptions each fixture README lists (missing image, DICOM only,
Latin-1 report) applied.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "reports"

MIMIC_NO_IMAGE = {"50000007"}  # image_missing
MIMIC_DICOM_ONLY = {"50000009"}  # dicom_needs_convert
CHEXPERT_NO_IMAGE = {"patient64545"}
CHEXPERT_DICOM_ONLY = {"patient64548"}
IU_MISSING_PNG = {"CXR104_IM-0020-3001"}


def write_image(path: Path, value: int, size: tuple[int, int] = (12, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)
    return path


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    photometric: str = "MONOCHROME2",
    window: tuple[float, float] | None = None,
) -> Path:
    """A minimal, valid DX DICOM file (explicit VR little endian, 12-bit unsigned)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


DICOM_PIXELS = np.array([[0, 100], [200, 400]], dtype=np.uint16)


@pytest.fixture
def mimic_root(tmp_path: Path) -> Path:
    """MIMIC-CXR-JPG + reports layout: CSVs, files/pXX/.../sSTUDY.txt and .../sSTUDY/*.jpg."""
    root = tmp_path / "mimic"
    shutil.copytree(FIXTURES / "mimic-cxr", root)
    with (root / "mimic-cxr-2.0.0-metadata.csv").open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            subject, study, dicom = row["subject_id"], row["study_id"], row["dicom_id"]
            folder = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
            if study in MIMIC_NO_IMAGE:
                continue
            if study in MIMIC_DICOM_ONLY:
                write_dicom(folder / f"{dicom}.dcm", DICOM_PIXELS)
            else:
                write_image(folder / f"{dicom}.jpg", 20 + 10 * i)
    # A report that is not UTF-8 (Latin-1 "é").
    (root / "files/p12/p12000003/s50000006.txt").write_bytes(
        "FINAL REPORT\n FINDINGS:  Caf\xe9 au lait spots.\n IMPRESSION:  Normal.\n".encode(
            "latin-1"
        )
    )
    return root


@pytest.fixture
def chexpert_root(tmp_path: Path) -> Path:
    """CheXpert Plus: the table plus PNG/<path_to_image with .png>, one study DICOM only."""
    root = tmp_path / "chexpert"
    shutil.copytree(FIXTURES / "chexpert-plus", root)
    with (root / "df_chexpert_plus_240401.csv").open(newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            patient = row["path_to_image"].split("/")[1]
            if patient in CHEXPERT_NO_IMAGE:
                continue
            if patient in CHEXPERT_DICOM_ONLY:
                write_dicom(root / row["path_to_dcm"], DICOM_PIXELS, photometric="MONOCHROME1")
                continue
            write_image(root / "PNG" / Path(row["path_to_image"]).with_suffix(".png"), 30 + i)
    return root


@pytest.fixture
def iu_release(tmp_path: Path) -> tuple[Path, Path]:
    """Open-i: the fixture's ecgen-radiology/ XML and a folder of NLMCXR PNGs."""
    from lingshu.data.prepare.iu_xray import read_iu_reports

    reports = FIXTURES / "iu-xray" / "ecgen-radiology"
    png = tmp_path / "NLMCXR_png"
    png.mkdir()
    for k, report in enumerate(read_iu_reports(reports)):
        for image_id in report.image_ids:
            if image_id not in IU_MISSING_PNG:
                write_image(png / f"{image_id}.png", 40 + k)
    return reports, png
