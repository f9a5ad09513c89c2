"""DICOM and NIfTI files as 8-bit RGB images, the way a radiologist's viewer shows them.

A model sees pixels, not Hounsfield units: a CT slice must be windowed, an inverted
(MONOCHROME1) radiograph flipped, one frame chosen from a cine loop, one slice from a
volume, before it can go through the same image processor as a PNG. Both readers are
registered with :func:`lingshu.models.images.register_reader`, so ``load_image`` and
``image_to_data_uri`` (and everything built on them: evaluation backends, chat, the
server) accept ``.dcm``, ``.nii`` and ``.nii.gz`` with the defaults below. Callers that
need another frame, axis or slice use :func:`load_medical_image` with keyword options.

DICOM (pydicom), in the order of the DICOM grayscale pipeline (PS3.4 N.2):

1. the chosen frame (default: the middle one, ``n_frames // 2``: for cine loops and
   enhanced multi-frame volumes it is the most representative single image);
2. the Modality LUT (Rescale Slope/Intercept, or a Modality LUT Sequence);
3. the VOI LUT Sequence when present, else the first Window Center/Width pair (with its
   VOI LUT Function: LINEAR, LINEAR_EXACT or SIGMOID), both via ``pydicom.pixels``;
   the windowed range maps linearly onto 0..255; without either, the image's own
   minimum..maximum does;
4. MONOCHROME1 (low values white) is inverted so that air is black, as in PNG releases.

Colour files: RGB and the YBR family (converted to RGB by pydicom) are scaled from their
bit depth to 8 bits; PALETTE COLOR goes through its colour lookup table.

NIfTI (nibabel): the volume is reoriented to the closest canonical RAS+ orientation
(``nibabel.as_closest_canonical``), so axis 0 runs left->right, axis 1
posterior->anterior and axis 2 inferior->superior; the default ``axis=2`` therefore
gives axial slices, and the default slice is the middle one. 4-D series take volume 0
of the extra dimensions unless ``volume`` says otherwise. The slice is rotated so that the
image's up is anterior (axial), superior (sagittal, coronal); the patient's right is
on the image's right (neurological convention, as in FSLeyes and nibabel's viewer).
Intensities are windowed between the slice's 0.5th and 99.5th percentiles (finite
voxels), which ignores a few hot or cold outliers that would otherwise wash out the
image; NIfTI has no standard display window.
"""

from __future__ import annotations

import gzip
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lingshu.core.errors import SampleError
from lingshu.models.images import ImageReader, register_reader

NIFTI_PERCENTILES = (0.5, 99.5)
"""Display window for NIfTI slices, as percentiles of the slice's finite voxels."""

_DICOM_MAGIC_OFFSET = 128
_NIFTI1_MAGICS = (b"n+1\x00", b"ni1\x00")  # at offset 344: single file, .hdr/.img pair
_NIFTI2_MAGICS = (b"n+2\x00", b"ni2\x00")  # at offset 4


# ---------------------------------------------------------------------------- DICOM


def read_dicom(path: str | Path, *, frame: int | None = None) -> Image.Image:
    """Decode one frame of a DICOM file into an 8-bit RGB image (see the module doc).

    ``frame`` is 0-based; ``None`` chooses the middle frame. Raises ``SampleError``
    naming the file when it is not a readable DICOM image or ``frame`` is out of range.
    """
    import pydicom
    from pydicom.pixels import pixel_array

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except Exception as e:  # InvalidDicomError, EOFError, struct errors, ...
        raise SampleError(f"{path}: not a readable DICOM file ({_one_line(e)})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise SampleError(
            f"{path}: DICOM file holds no image (no Pixel Data, modality "
            f"{ds.get('Modality', 'unknown')}): it is truncated, or not an image object "
            "(a report or structure set); pass a complete DICOM image"
        )
    n_frames = _n_frames(ds)
    index = n_frames // 2 if frame is None else frame
    if not 0 <= index < n_frames:
        raise SampleError(
            f"{path}: frame {frame} out of range; the file has {n_frames} frame(s) (0-based)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = pixel_array(ds, index=index if n_frames > 1 else None)
        return Image.fromarray(_dicom_to_uint8(arr, ds)).convert("RGB")
    except SampleError:
        raise
    except Exception as e:  # missing decoder plugin, truncated pixel data, bad LUTs
        raise SampleError(
            f"{path}: cannot decode the DICOM pixel data ({_one_line(e)}); the file is "
            "truncated, corrupt or uses a compression without an installed decoder"
        ) from None


def _n_frames(ds: Any) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _dicom_to_uint8(arr: np.ndarray, ds: Any) -> np.ndarray:
    """Stored values of one frame -> uint8 (H, W) grey or (H, W, 3) RGB."""
    from pydicom.pixels import apply_color_lut

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        return _scale_bits(arr, 16 if arr.dtype == np.uint16 else 8)
    if arr.ndim == 3:  # RGB, or YBR_* already converted to RGB by pydicom
        return _scale_bits(arr, int(ds.get("BitsStored", 8) or 8))
    if arr.ndim != 2:
        raise SampleError(f"unexpected pixel array shape {arr.shape} for one frame")
    grey = _display_grey(arr, ds)
    if photometric == "MONOCHROME1":
        grey = 255.0 - grey
    return np.rint(grey).astype(np.uint8)


def _display_grey(arr: np.ndarray, ds: Any) -> np.ndarray:
    """Modality LUT, then VOI LUT / window, as float64 in 0..255."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut, apply_windowing

    values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    if "VOILUTSequence" in ds:
        out = np.asarray(apply_voi_lut(values, ds, index=0, prefer_lut=True), np.float64)
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        return np.clip(out / (2.0**bits - 1.0) * 255.0, 0.0, 255.0)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        out = np.asarray(apply_windowing(values, ds, index=0), dtype=np.float64)
        # pydicom maps the window onto the data type's output range [y_min, y_max] and
        # clips there; the window's images of -inf and +inf are exactly those bounds.
        with np.errstate(over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y_min, y_max = np.asarray(
                apply_windowing(np.array([-1e300, 1e300]), ds, index=0), dtype=np.float64
            )
        if y_max > y_min:
            return np.clip((out - y_min) / (y_max - y_min) * 255.0, 0.0, 255.0)
    return _min_max(values)


def _scale_bits(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8 or bits <= 8:
        return np.clip(arr, 0, 255).astype(np.uint8)
    top = float(2**bits - 1)
    return np.rint(np.clip(arr.astype(np.float64), 0, top) / top * 255.0).astype(np.uint8)


def _min_max(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros_like(values, dtype=np.float64)
    return (values - lo) / (hi - lo) * 255.0


def _is_dicom(header: bytes) -> bool:
    return header[_DICOM_MAGIC_OFFSET : _DICOM_MAGIC_OFFSET + 4] == b"DICM"


# ---------------------------------------------------------------------------- NIfTI


def read_nifti(
    path: str | Path,
    *,
    axis: int = 2,
    slice_index: int | None = None,
    volume: int = 0,
) -> Image.Image:
    """One slice of a NIfTI-1/2 volume (``.nii`` or ``.nii.gz``) as an 8-bit RGB image.

    ``axis`` is 0 (sagittal), 1 (coronal) or 2 (axial) after reorientation to RAS+;
    ``slice_index`` defaults to the middle slice along it; ``volume`` picks the index
    in the 4th dimension of a time series. See the module doc for orientation and window.
    """
    import nibabel as nib

    path = Path(path)
    if axis not in (0, 1, 2):
        raise SampleError(f"{path}: axis must be 0, 1 or 2, got {axis}")
    try:
        img = nib.as_closest_canonical(_load_nifti(path))
        shape = img.shape
    except Exception as e:  # ImageFileError, truncated gzip, bad header
        raise SampleError(f"{path}: not a readable NIfTI file ({_one_line(e)})") from None
    if len(shape) < 3:
        shape = tuple(shape) + (1,) * (3 - len(shape))
    extra = shape[3:]
    if extra and not 0 <= volume < extra[0]:
        raise SampleError(
            f"{path}: volume {volume} out of range; the series has {extra[0]} volumes (0-based)"
        )
    n = shape[axis]
    index = n // 2 if slice_index is None else slice_index
    if not 0 <= index < n:
        raise SampleError(
            f"{path}: slice {slice_index} out of range; axis {axis} has {n} slices (0-based)"
        )
    try:
        data = np.asanyarray(img.dataobj)
        data = data.reshape(shape) if data.ndim < 3 else data
        while data.ndim > 3:  # 4-D series: chosen volume; higher dims: their first entry
            data = data[..., volume] if data.ndim == 4 else data[..., 0]
        plane = np.take(data, index, axis=axis).astype(np.float64)
    except Exception as e:  # truncated image data
        raise SampleError(
            f"{path}: cannot read the NIfTI voxel data ({_one_line(e)}); the file is "
            "truncated or corrupt"
        ) from None
    return Image.fromarray(nifti_window(np.rot90(plane))).convert("RGB")


def _load_nifti(path: Path) -> Any:
    """Load by content, not by name: nibabel picks its parser from the extension, and a
    NIfTI file saved as ``scan.bin`` or ``upload`` must still load."""
    import nibabel as nib

    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[344:348] == b"n+1\x00":
        return nib.Nifti1Image.from_bytes(raw)
    if raw[4:8] == b"n+2\x00":
        return nib.Nifti2Image.from_bytes(raw)
    return nib.load(path)  # header of a .hdr/.img pair: nibabel finds the .img


def nifti_window(plane: np.ndarray) -> np.ndarray:
    """Map ``plane`` to uint8 between its :data:`NIFTI_PERCENTILES` (finite voxels only)."""
    finite = plane[np.isfinite(plane)]
    if finite.size == 0:
        return np.zeros(plane.shape, dtype=np.uint8)
    lo, hi = np.percentile(finite, NIFTI_PERCENTILES)
    if hi <= lo:
        return np.zeros(plane.shape, dtype=np.uint8)
    scaled = (np.nan_to_num(plane, nan=lo, posinf=hi, neginf=lo) - lo) / (hi - lo) * 255.0
    return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


def _is_nifti(header: bytes) -> bool:
    if header[:2] == b"\x1f\x8b":
        header = _gunzip_prefix(header)
    return header[344:348] in _NIFTI1_MAGICS or header[4:8] in _NIFTI2_MAGICS


def _gunzip_prefix(data: bytes) -> bytes:
    """As much of a gzip stream as ``data`` (its first bytes) decompresses to.

    A NIfTI header is mostly zeros, so 512 compressed bytes give well over the 348 needed
    to see the magic; a gzip of anything else simply does not match.
    """
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 1024)
    except zlib.error:
        return b""


# ---------------------------------------------------------------------------- shared


def load_medical_image(
    path: str | Path,
    *,
    frame: int | None = None,
    axis: int = 2,
    slice_index: int | None = None,
    volume: int = 0,
) -> Image.Image:
    """Decode a DICOM or NIfTI file with explicit options; ``frame`` applies to DICOM,
    ``axis``/``slice_index``/``volume`` to NIfTI. Other formats: use ``load_image``."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            header = fh.read(512)
    except OSError as e:
        raise SampleError(f"{path}: cannot read image file ({e.strerror or e})") from None
    if _is_dicom(header):
        return read_dicom(path, frame=frame)
    if _is_nifti(header):
        return read_nifti(path, axis=axis, slice_index=slice_index, volume=volume)
    raise SampleError(
        f"{path}: neither a DICOM (no 'DICM' at byte 128) nor a NIfTI file (no n+1/n+2 "
        "magic); use load_image for PNG/JPEG/TIFF"
    )


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _read_dicom_default(path: Path) -> Image.Image:
    return read_dicom(path)


def _read_nifti_default(path: Path) -> Image.Image:
    return read_nifti(path)


# A DICOM preamble (bytes 0-127) may hold a TIFF header: PS3.10 allows dual-format
# DICOM/TIFF files, and pydicom's CT_small.dcm is one. So DICOM's signature is tried
# before TIFF's.
DICOM_READER = register_reader(
    ImageReader("DICOM", (".dcm", ".dicom"), _is_dicom, _read_dicom_default), before="TIFF"
)
NIFTI_READER = register_reader(
    ImageReader("NIfTI", (".nii", ".gz"), _is_nifti, _read_nifti_default)
)

__all__ = [
    "DICOM_READER",
    "NIFTI_PERCENTILES",
    "NIFTI_READER",
    "load_medical_image",
    "nifti_window",
    "read_dicom",
    "read_nifti",
]
