"""Images sent to the server: data URIs (and, when allowed, http(s) URLs) -> RGB pixels.

A request's image is untrusted bytes, so decoding is defensive:

- only ``data:`` URIs are read by default; ``http(s)`` URLs only with
  ``--allow-remote-images`` (the server would otherwise fetch any address a client names,
  internal ones included), through :mod:`lingshu.serve.remote` (public addresses only, a
  total deadline, a size cap, a bounded number at once); ``file://`` URLs and paths are
  never read, whatever the flags;
- only a fixed list of formats is decoded (PNG, JPEG, GIF, WebP, BMP, TIFF via PIL; DICOM
  and NIfTI via the model layer's readers) so that PIL never reaches a plugin such as
  EPS, which would run Ghostscript;
- the pixel count is checked from the header, before any pixels are decoded, so a small
  file that claims to be 100,000 x 100,000 pixels (a decompression bomb) costs nothing;
  each image also takes its share of the request's pixel budget (and a NIfTI volume of
  its volume budget) from its header, before it is decoded or inflated;
- error messages say what was wrong with the image, never a path or a library's repr.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import math
import os
import re
import tempfile
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from lingshu.serve.errors import ApiError, bad_request

log = logging.getLogger(__name__)

PIL_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+(=[\w.+-]+)?)*),", re.S
)
_DICOM_MIMES = {"application/dicom", "application/dicom+data"}
_NIFTI_MIMES = {"application/gzip", "application/x-gzip", "application/x-nifti"}
"""What browsers and clients label ``.nii.gz`` / ``.nii`` files with (plain ``.nii`` files
mostly arrive as application/octet-stream)."""
MAX_NIFTI_BYTES = 512 * 2**20
"""Largest NIfTI volume read (a 512 x 512 x 600 int16 CT is 300 MiB), judged from the header
before inflating: a small gzip upload that declares more is refused, and one that would
inflate beyond what it declares is inflated only up to that."""


@dataclass(frozen=True)
class ImagePolicy:
    """What the server accepts as an image (from the ``serve`` command's options)."""

    max_pixels: int = 25_000_000
    """Width x height above which an image is refused (413) before it is decoded."""
    max_request_pixels: int = 100_000_000
    """Pixels decoded for one request, all its images together (a DICOM or NIfTI counts the
    plane it is shown as). Four images at ``max_pixels``, about 300 MB of RGB: 16 images of
    5,000 x 5,000 in a 1.3 MB request used to take 56 s and 2.6 GB."""
    max_request_volume_bytes: int = 512 * 2**20
    """Uncompressed voxel data of all NIfTI volumes in one request (the whole volume is
    read to show one slice), from their headers before anything is inflated: one large CT
    (512 x 512 x 600 int16 is 300 MiB) fits, four gzipped 500 KB "bombs" of 512 MiB do not."""
    max_bytes: int = 20 * 2**20
    """Largest remote image fetched (local data URIs are bounded by the body limit)."""
    allow_remote: bool = False
    remote_timeout_s: float = 10.0
    """Total time one remote fetch may take: DNS, connection, redirects and body."""
    max_remote_fetches: int = 8
    """Remote fetches in flight at once, over all requests; more are refused with 429."""
    trusted_networks: tuple[str, ...] = ()
    """CIDR ranges fetched from although they are not public (e.g. an in-house PACS
    gateway ``10.1.2.0/24``); empty by default: only public addresses are fetched."""


@dataclass
class PixelBudget:
    """What is left of one request's pixel and volume budgets; each image takes its share
    from its header, before it is decoded."""

    pixels: int
    volume_bytes: int
    taken: list[int] = field(default_factory=lambda: [0, 0])

    @classmethod
    def of(cls, policy: ImagePolicy) -> PixelBudget:
        return cls(policy.max_request_pixels, policy.max_request_volume_bytes)

    def take_pixels(self, width: int, height: int, param: str) -> None:
        self.taken[0] += width * height
        if self.taken[0] > self.pixels:
            raise ApiError(
                413,
                f"the request's images hold more than {self.pixels:,} pixels together "
                f"(this one is {width} x {height}); send fewer or smaller images",
                param=param,
                code="request_pixels_exceeded",
            )

    def take_volume(self, nbytes: int, param: str) -> None:
        self.taken[1] += nbytes
        if self.taken[1] > self.volume_bytes:
            raise ApiError(
                413,
                f"the request's NIfTI volumes hold more than {self.volume_bytes // 2**20} MiB "
                "of voxel data together; send fewer or smaller volumes (or single slices)",
                param=param,
                code="request_pixels_exceeded",
            )


def decode_image_url(
    url: str, policy: ImagePolicy, param: str, budget: PixelBudget | None = None
) -> Image.Image:
    """The RGB image an ``image_url`` part refers to, or an :class:`ApiError` saying why not.

    A remote URL is fetched here only outside the server (the app fetches remote images on
    its event loop first, see :mod:`lingshu.serve.remote`, and decodes the bytes).
    """
    url = url.strip()
    lowered = url[:16].lower()
    if lowered.startswith("data:"):
        data = _data_uri_bytes(url, param)
    elif lowered.startswith(("http://", "https://")):
        if not policy.allow_remote:
            raise bad_request(
                "remote image URLs are disabled on this server; send the image inline as a "
                "data URI (data:image/png;base64,...) or start the server with "
                "--allow-remote-images",
                param=param,
                code="remote_images_disabled",
            )
        from lingshu.serve.remote import fetch_blocking

        data = fetch_blocking(url, policy, param)
    else:
        raise bad_request(
            "an image URL must be a data URI (data:image/png;base64,...) or an http(s) URL; "
            "the server never reads local files",
            param=param,
            code="invalid_image_url",
        )
    return decode_image_bytes(data, policy, param, budget)


def is_remote(url: str) -> bool:
    return url.strip()[:8].lower().startswith(("http://", "https://"))


def decode_image_bytes(
    data: bytes, policy: ImagePolicy, param: str, budget: PixelBudget | None = None
) -> Image.Image:
    """Decode an image file's bytes (any supported format) into RGB pixels, charging its
    size to ``budget`` (a fresh one per call when none is given) before decoding."""
    budget = budget or PixelBudget.of(policy)
    if not data:
        raise bad_request("the image is empty (0 bytes)", param=param, code="invalid_image")
    if len(data) > 132 and data[128:132] == b"DICM":
        return _decode_dicom(data, policy, param, budget)
    if _looks_like_nifti(data):
        return _decode_nifti(data, policy, param, budget)
    return _decode_with_pil(data, policy, param, budget)


def _data_uri_bytes(url: str, param: str) -> bytes:
    m = _DATA_URI.match(url[:256])
    if m is None:
        raise bad_request(
            "malformed data URI; expected data:<mime type>;base64,<data>",
            param=param,
            code="invalid_image_url",
        )
    mime = (m.group("mime") or "").lower()
    if mime and not (
        mime.startswith("image/")
        or mime in _DICOM_MIMES
        or mime in _NIFTI_MIMES
        or mime == "application/octet-stream"
    ):
        raise bad_request(
            f"data URI of type {mime!r} is not an image; expected image/png, image/jpeg, "
            "application/dicom or (NIfTI) application/gzip",
            param=param,
            code="invalid_image",
        )
    if ";base64" not in m.group("params").lower():
        raise bad_request(
            "data URIs must be base64-encoded (data:image/png;base64,...)",
            param=param,
            code="invalid_image_url",
        )
    payload = re.sub(r"\s+", "", url[m.end() :])
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(
            "the image's base64 data is invalid (characters outside the base64 alphabet or "
            "wrong padding)",
            param=param,
            code="invalid_base64",
        ) from None


def _too_large(width: int, height: int, policy: ImagePolicy, param: str) -> ApiError:
    return ApiError(
        413,
        f"the image is {width} x {height} = {width * height:,} pixels; this server accepts at "
        f"most {policy.max_pixels:,} pixels per image (--max-image-pixels)",
        param=param,
        code="image_too_large",
    )


def _decode_with_pil(
    data: bytes, policy: ImagePolicy, param: str, budget: PixelBudget
) -> Image.Image:
    from lingshu.models.images import to_rgb

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=PIL_FORMATS) as im:
                width, height = im.size
                if width * height > policy.max_pixels:
                    raise _too_large(width, height, policy, param)
                budget.take_pixels(width, height, param)
                im.seek(0)
                im.load()
                image = im.copy()
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError(
            413,
            "the image declares more pixels than this server decodes",
            param=param,
            code="image_too_large",
        ) from None
    except UnidentifiedImageError:
        raise bad_request(
            "the image could not be decoded: not a PNG, JPEG, GIF, WebP, BMP, TIFF or DICOM file",
            param=param,
            code="invalid_image",
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise bad_request(
            "the image could not be decoded; the file is truncated or corrupt",
            param=param,
            code="invalid_image",
        ) from None
    return to_rgb(image)


def _decode_dicom(
    data: bytes, policy: ImagePolicy, param: str, budget: PixelBudget
) -> Image.Image:
    """DICOM through the model layer's reader (windowing, MONOCHROME1...), size-checked first."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from lingshu.core.errors import SampleError
    from lingshu.models.images import supported_formats

    if "DICOM" not in {f.upper() for f in supported_formats()}:
        raise bad_request(
            "DICOM images are not supported by this server", param=param, code="invalid_image"
        )
    try:
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        rows, cols = int(header.get("Rows", 0) or 0), int(header.get("Columns", 0) or 0)
    except (InvalidDicomError, OSError, ValueError, TypeError, EOFError):
        raise bad_request(
            "the DICOM file could not be read; it is truncated or corrupt",
            param=param,
            code="invalid_image",
        ) from None
    if rows * cols == 0:
        raise bad_request(
            "the DICOM file holds no image (no Rows/Columns)", param=param, code="invalid_image"
        )
    if rows * cols > policy.max_pixels:
        raise _too_large(cols, rows, policy, param)
    budget.take_pixels(cols, rows, param)
    try:
        return _load_via_file(data, ".dcm")
    except SampleError:
        raise bad_request(
            "the DICOM image could not be decoded; the file is truncated, corrupt "
            "or uses an unsupported transfer syntax",
            param=param,
            code="invalid_image",
        ) from None


def _load_via_file(data: bytes, suffix: str):
    """Decode uploaded bytes with the model layer's file readers (DICOM, NIfTI read paths),
    through a temporary file that is always removed."""
    from lingshu.models.images import load_image

    fd, tmp = tempfile.mkstemp(prefix="lingshu-upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return load_image(tmp)
    finally:
        os.unlink(tmp)


def _looks_like_nifti(data: bytes) -> bool:
    """NIfTI-1/2 by magic bytes, or any gzip stream (only NIfTI is accepted gzipped)."""
    return (
        data[:2] == b"\x1f\x8b"
        or data[344:348] in (b"n+1\x00", b"ni1\x00")
        or data[4:8] in (b"n+2\x00", b"ni2\x00")
    )


def _decode_nifti(
    data: bytes, policy: ImagePolicy, param: str, budget: PixelBudget
) -> Image.Image:
    """A NIfTI volume through the model layer's reader (its default slice). The header is
    read first (from the first bytes of a gzip stream) and the volume's declared size is
    checked and charged to the request before anything else is inflated; the inflation then
    stops at that declared size, so a small upload cannot inflate into gigabytes."""
    from lingshu.core.errors import SampleError

    def invalid(why: str) -> ApiError:
        return bad_request(f"the NIfTI file {why}", param=param, code="invalid_image")

    gzipped = data[:2] == b"\x1f\x8b"
    head = _inflate(data, _NIFTI_HEADER_BYTES, invalid) if gzipped else data
    layout = _nifti_layout(head)
    if layout is None:
        raise invalid("could not be read; it is not NIfTI-1/2 or its header is corrupt")
    shape, offset, voxel_bytes = layout
    if offset + voxel_bytes > MAX_NIFTI_BYTES:
        raise ApiError(
            413,
            f"the NIfTI volume holds more than {MAX_NIFTI_BYTES // 2**20} MiB of voxel data",
            param=param,
            code="image_too_large",
        )
    rows, cols = (list(shape) + [1, 1])[:2]
    if rows * cols > policy.max_pixels:
        raise _too_large(cols, rows, policy, param)
    budget.take_volume(voxel_bytes, param)
    budget.take_pixels(cols, rows, param)
    raw = _inflate(data, offset + voxel_bytes, invalid) if gzipped else data
    try:
        return _load_via_file(raw, ".nii")
    except SampleError:
        raise invalid("could not be decoded; it is truncated or corrupt") from None


_NIFTI_HEADER_BYTES = 540  # NIfTI-2's header; NIfTI-1's is 348


def _inflate(data: bytes, limit: int, invalid: Callable[[str], ApiError]) -> bytes:
    """At most ``limit`` bytes of the gzip stream ``data``."""
    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data, limit)
    except zlib.error:
        raise invalid("could not be decompressed; the gzip stream is corrupt") from None


def _nifti_layout(raw: bytes) -> tuple[tuple[int, ...], int, int] | None:
    """(shape, offset of the voxel data, bytes of voxel data) from a NIfTI-1/2 header."""
    import nibabel as nib

    try:
        if raw[344:348] in (b"n+1\x00", b"ni1\x00"):
            header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw[:348]))
        elif raw[4:8] in (b"n+2\x00", b"ni2\x00"):
            header = nib.Nifti2Header.from_fileobj(io.BytesIO(raw[:540]))
        else:
            return None
        shape = tuple(int(n) for n in header.get_data_shape())
        item = int(header["bitpix"]) // 8
        offset = max(int(header.get_data_offset()), 0)
    except Exception:  # nibabel raises several types for a corrupt header
        return None
    if any(n < 0 for n in shape) or item <= 0:
        return None
    return shape, offset, math.prod(shape) * item


def to_png_data_uri(image: Image.Image) -> str:
    """An image as ``data:image/png;base64,...``: what the web page shows for a DICOM."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
