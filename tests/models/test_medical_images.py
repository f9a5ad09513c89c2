"""DICOM and NIfTI decoding on the real files shipped with pydicom and nibabel.

Expected pixels are computed here from the raw stored arrays with hand-written numpy
(the DICOM linear window formula, rescale slope/intercept, YCbCr->RGB, percentile
windowing), never by calling the code under test.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from nibabel.testing import data_path as NIBABEL_DATA
from pydicom.data import get_testdata_file

from lingshu.core.errors import SampleError
from lingshu.models import image_to_data_uri, load_image, load_medical_image, supported_formats


def dcm(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} not installed")
    return Path(path)


def nii(name: str) -> Path:
    return Path(NIBABEL_DATA) / name


def window_linear(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR window onto 0..255, written out by hand."""
    lo = center - 0.5 - (width - 1) / 2
    hi = center - 0.5 + (width - 1) / 2
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.where(x <= lo, 0.0, np.where(x > hi, 255.0, y))


def min_max(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return (x - x.min()) / (x.max() - x.min()) * 255.0


def grey(image) -> np.ndarray:
    arr = np.asarray(image)
    assert image.mode == "RGB" and arr.ndim == 3
    assert np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])
    return arr[..., 0].astype(np.float64)


def assert_close(actual: np.ndarray, expected: np.ndarray, tol: float = 1.0) -> None:
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= tol


def test_formats_registered_dicom_before_tiff():
    formats = supported_formats()
    assert {"DICOM", "NIfTI"} <= set(formats)
    # CT_small.dcm's preamble holds a TIFF header: DICOM must be recognised first.
    assert formats.index("DICOM") < formats.index("TIFF")


def test_ct_rescale_then_min_max():
    path = dcm("CT_small.dcm")
    ds = pydicom.dcmread(path)
    assert "WindowCenter" not in ds
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert_close(grey(load_image(path)), min_max(hu))


def test_mr_window_center_width():
    path = dcm("MR_small.dcm")
    ds = pydicom.dcmread(path)
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    assert (c, w) == (600.0, 1600.0)
    expected = window_linear(ds.pixel_array.astype(np.float64), c, w)
    got = grey(load_image(path))
    assert_close(got, expected)
    assert got.min() > 0  # the window does not reach the darkest pixel: not a min-max


def test_monochrome1_is_inverted(tmp_path):
    ds = pydicom.dcmread(dcm("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    path = tmp_path / "mono1.dcm"
    ds.save_as(path)
    expected = 255.0 - window_linear(ds.pixel_array.astype(np.float64), 600.0, 1600.0)
    assert_close(grey(load_image(path)), expected)


def test_multiframe_middle_by_default_and_selectable():
    path = dcm("rtdose.dcm")
    frames = pydicom.dcmread(path).pixel_array
    assert frames.shape[0] == 15
    assert_close(grey(load_image(path)), min_max(frames[7]))
    assert_close(grey(load_medical_image(path, frame=0)), min_max(frames[0]))
    with pytest.raises(SampleError, match=r"rtdose\.dcm: frame 15 out of range.*15 frame"):
        load_medical_image(path, frame=15)


def test_rgb_multiframe_and_16_bit():
    path = dcm("SC_rgb_rle_2frame.dcm")
    frames = pydicom.dcmread(path).pixel_array
    assert np.array_equal(np.asarray(load_medical_image(path, frame=0)), frames[0])
    assert np.array_equal(np.asarray(load_image(path)), frames[1])  # middle of 2 = 1
    path16 = dcm("SC_rgb_rle_16bit.dcm")
    raw16 = pydicom.dcmread(path16).pixel_array.astype(np.float64)
    assert_close(np.asarray(load_image(path16)).astype(np.float64), raw16 / 65535 * 255, 0.5)


def test_ybr_full_422_converted_to_rgb():
    path = dcm("SC_ybr_full_422_uncompressed.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    from pydicom.pixels import pixel_array

    ybr = pixel_array(ds, raw=True).astype(np.float64)  # stored Y, Cb, Cr
    y, cb, cr = ybr[..., 0], ybr[..., 1] - 128, ybr[..., 2] - 128
    rgb = np.stack(
        [y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=-1
    ).clip(0, 255)
    assert_close(np.asarray(load_image(path)).astype(np.float64), rgb, 2.0)


def test_dicom_data_uri_is_png_of_decoded_pixels():
    path = dcm("MR_small.dcm")
    assert image_to_data_uri(path).startswith("data:image/png;base64,")


def _canonical_from_las(data: np.ndarray) -> np.ndarray:
    """LAS -> RAS: flip the first axis (hand-derived from the affine's axis codes)."""
    return data[::-1]


def _percentile_window(plane: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(plane, [0.5, 99.5])
    return np.clip((plane - lo) / (hi - lo) * 255.0, 0, 255)


def test_nifti_middle_axial_slice_with_percentile_window():
    path = nii("anatomical.nii")
    img = nib.load(path)
    assert nib.aff2axcodes(img.affine) == ("L", "A", "S")
    data = _canonical_from_las(np.asarray(img.get_fdata()))
    assert data.shape == (33, 41, 25)
    plane = np.rot90(data[:, :, 12])  # anterior up, patient's right on the right
    image = load_image(path)
    assert image.size == (33, 41)
    assert_close(grey(image), _percentile_window(plane))


def test_nifti_gz_4d_axis_slice_and_volume():
    path = nii("example4d.nii.gz")
    img = nib.load(path)
    assert nib.aff2axcodes(img.affine) == ("L", "A", "S")
    data = _canonical_from_las(np.asarray(img.get_fdata()))
    assert data.shape == (128, 96, 24, 2)
    assert_close(grey(load_image(path)), _percentile_window(np.rot90(data[:, :, 12, 0])))
    sagittal = load_medical_image(path, axis=0, slice_index=40, volume=1)
    assert sagittal.size == (96, 24)
    assert_close(grey(sagittal), _percentile_window(np.rot90(data[40, :, :, 1])))
    with pytest.raises(SampleError, match=r"slice 24 out of range; axis 2 has 24 slices"):
        load_medical_image(path, slice_index=24)
    with pytest.raises(SampleError, match=r"volume 2 out of range"):
        load_medical_image(path, volume=2)


def test_nifti2_recognised_by_content(tmp_path):
    src = nii("example_nifti2.nii.gz")
    renamed = tmp_path / "scan.bin"  # no telling extension: the gzip'd header decides
    shutil.copy(src, renamed)
    data = np.asarray(nib.load(src).get_fdata())[::-1]
    assert_close(grey(load_image(renamed)), _percentile_window(np.rot90(data[:, :, 6, 0])))


def _assert_one_line(exc: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg and "Traceback" not in msg


@pytest.mark.parametrize(("keep", "reason"), [(5000, "truncated"), (30000, "pixel data")])
def test_truncated_dicom_is_one_line(tmp_path, keep, reason):
    """Cut before the pixel data tag, and inside the pixel data."""
    path = tmp_path / "cut.dcm"
    raw = dcm("CT_small.dcm").read_bytes()
    assert len(raw) > keep
    path.write_bytes(raw[:keep])
    with pytest.raises(SampleError, match=reason) as exc:
        load_image(path)
    _assert_one_line(exc, path)


def test_dicom_magic_with_garbage_is_one_line(tmp_path):
    path = tmp_path / "garbage.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + os.urandom(300))
    with pytest.raises(SampleError) as exc:
        load_image(path)
    _assert_one_line(exc, path)


def test_dicom_without_pixels_is_one_line(tmp_path):
    ds = pydicom.dcmread(dcm("CT_small.dcm"))
    del ds.PixelData
    path = tmp_path / "nopix.dcm"
    ds.save_as(path)
    with pytest.raises(SampleError, match="holds no image") as exc:
        load_image(path)
    _assert_one_line(exc, path)


def test_truncated_nifti_gz_is_one_line(tmp_path):
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(nii("example4d.nii.gz").read_bytes()[:3000])
    with pytest.raises(SampleError) as exc:
        load_image(path)
    _assert_one_line(exc, path)


def test_truncated_nii_is_one_line(tmp_path):
    path = tmp_path / "cut.nii"
    path.write_bytes(nii("anatomical.nii").read_bytes()[:600])
    with pytest.raises(SampleError) as exc:
        load_image(path)
    _assert_one_line(exc, path)


def test_gzip_of_something_else_is_reported_not_decoded(tmp_path):
    path = tmp_path / "notes.nii.gz"
    path.write_bytes(gzip.compress(b"hello " * 200))
    with pytest.raises(SampleError, match="not a valid NIfTI file") as exc:
        load_image(path)
    _assert_one_line(exc, path)
