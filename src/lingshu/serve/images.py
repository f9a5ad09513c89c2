"""Images sent to the server: data URIs (and, when allowed, http(s) URLs) -> RGB pixels.

A request's image is untrusted bytes, so decoding is defensive:

- only ``data:`` URIs are read by default; ``http(s)`` URLs only with
  ``--allow-remote-images`` (the server would otherwise fetch any address a client names,
  internal ones included); ``file://`` URLs and paths are never read, whatever the flags;
- only a fixed list of formats is decoded (PNG, JPEG, GIF, WebP, BMP, TIFF via PIL; DICOM
  via the model layer's reader) so that PIL never reaches a plugin such as EPS, which
  would run Ghostscript;
- the pixel count is checked from the header, before any pixels are decoded, so a small
  file that claims to be 100,000 x 100,000 pixels (a decompression bomb) costs nothing;
- error messages say what was wrong with the image, never a path or a library's repr.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
import tempfile
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from lingshu.serve.errors import ApiError, bad_request

log = logging.getLogger(__name__)

PIL_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+(=[\w.+-]+)?)*),", re.S
)
_DICOM_MIMES = {"application/dicom", "application/dicom+data"}


@dataclass(frozen=True)
class ImagePolicy:
    """What the server accepts as an image (from the ``serve`` command's options)."""

    max_pixels: int = 25_000_000
    """Width x height above which an image is refused (413) before it is decoded."""
    max_bytes: int = 20 * 2**20
    """Largest remote image fetched (local data URIs are bounded by the body limit)."""
    allow_remote: bool = False
    remote_timeout_s: float = 10.0


def decode_image_url(url: str, policy: ImagePolicy, param: str) -> Image.Image:
    """The RGB image an ``image_url`` part refers to, or an :class:`ApiError` saying why not."""
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
        data = _fetch(url, policy, param)
    else:
        raise bad_request(
            "an image URL must be a data URI (data:image/png;base64,...) or an http(s) URL; "
            "the server never reads local files",
            param=param,
            code="invalid_image_url",
        )
    return decode_image_bytes(data, policy, param)


def decode_image_bytes(data: bytes, policy: ImagePolicy, param: str) -> Image.Image:
    """Decode an image file's bytes (any supported format) into RGB pixels."""
    if not data:
        raise bad_request("the image is empty (0 bytes)", param=param, code="invalid_image")
    if len(data) > 132 and data[128:132] == b"DICM":
        return _decode_dicom(data, policy, param)
    return _decode_with_pil(data, policy, param)


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
        mime.startswith("image/") or mime in _DICOM_MIMES or mime == "application/octet-stream"
    ):
        raise bad_request(
            f"data URI of type {mime!r} is not an image; expected image/png, image/jpeg or "
            "application/dicom",
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


def _decode_with_pil(data: bytes, policy: ImagePolicy, param: str) -> Image.Image:
    from lingshu.models.images import to_rgb

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=PIL_FORMATS) as im:
                width, height = im.size
                if width * height > policy.max_pixels:
                    raise _too_large(width, height, policy, param)
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


def _decode_dicom(data: bytes, policy: ImagePolicy, param: str) -> Image.Image:
    """DICOM through the model layer's reader (windowing, MONOCHROME1...), size-checked first."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from lingshu.core.errors import SampleError
    from lingshu.models.images import load_image, supported_formats

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
    fd, tmp = tempfile.mkstemp(prefix="lingshu-upload-", suffix=".dcm")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return load_image(tmp)
    except SampleError:
        raise bad_request(
            "the DICOM image could not be decoded; the file is truncated, corrupt "
            "or uses an unsupported transfer syntax",
            param=param,
            code="invalid_image",
        ) from None
    finally:
        os.unlink(tmp)


def _fetch(url: str, policy: ImagePolicy, param: str) -> bytes:
    import httpx

    def refuse(why: str) -> ApiError:
        return bad_request(
            f"could not fetch the image URL: {why}", param=param, code="image_fetch_failed"
        )

    try:
        with httpx.Client(
            timeout=policy.remote_timeout_s, follow_redirects=True, max_redirects=3, trust_env=False
        ) as client:
            with client.stream("GET", url) as resp:
                if resp.status_code != 200:
                    raise refuse(f"HTTP {resp.status_code}")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > policy.max_bytes:
                        raise ApiError(
                            413,
                            f"the remote image exceeds {policy.max_bytes:,} bytes",
                            param=param,
                            code="image_too_large",
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
    except ApiError:
        raise
    except httpx.TimeoutException:
        raise refuse("timed out") from None
    except httpx.HTTPError as e:
        log.info("remote image fetch failed: %s", e)
        raise refuse("connection failed") from None


def to_png_data_uri(image: Image.Image) -> str:
    """An image as ``data:image/png;base64,...``: what the web page shows for a DICOM."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
