"""Images sent to the server: data URIs (and, when allowed, http(s) URLs) -> RGB pixels.

A request's image is untrusted bytes, so decoding is defensive:

- only ``data:`` URIs are read by default; ``http(s)`` URLs only with
  ``--allow-remote-images`` (the server would otherwise fetch any address a client names,
  internal ones included); ``file://`` URLs and paths are never read, whatever the flags;
- a remote URL's host is resolved once and every address it resolves to must be public
  (not loopback, private, link-local, cloud metadata, shared, reserved or multicast);
  the connection then goes to that checked address, so a second DNS answer cannot swap
  in an internal one (DNS rebinding). Redirects are followed by hand and each hop is
  checked the same way. Credentials in a URL (``user:pass@``) are never sent, and every
  failure to fetch gives the same message, so the server cannot be used to tell open
  ports from closed ones;
- only a fixed list of formats is decoded (PNG, JPEG, GIF, WebP, BMP, TIFF via PIL; DICOM
  and NIfTI via the model layer's readers) so that PIL never reaches a plugin such as
  EPS, which would run Ghostscript;
- the pixel count is checked from the header, before any pixels are decoded, so a small
  file that claims to be 100,000 x 100,000 pixels (a decompression bomb) costs nothing;
- error messages say what was wrong with the image, never a path or a library's repr.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import logging
import os
import re
import socket
import tempfile
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

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
MAX_REDIRECTS = 3
MAX_NIFTI_BYTES = 512 * 2**20
"""Largest decompressed NIfTI volume read (a 512 x 512 x 600 int16 CT is 300 MiB); a small
gzip upload that would inflate beyond it is refused rather than decompressed."""


@dataclass(frozen=True)
class ImagePolicy:
    """What the server accepts as an image (from the ``serve`` command's options)."""

    max_pixels: int = 25_000_000
    """Width x height above which an image is refused (413) before it is decoded."""
    max_bytes: int = 20 * 2**20
    """Largest remote image fetched (local data URIs are bounded by the body limit)."""
    allow_remote: bool = False
    remote_timeout_s: float = 10.0
    trusted_networks: tuple[str, ...] = ()
    """CIDR ranges fetched from although they are not public (e.g. an in-house PACS
    gateway ``10.1.2.0/24``); empty by default: only public addresses are fetched."""


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
    if _looks_like_nifti(data):
        return _decode_nifti(data, policy, param)
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


def _decode_nifti(data: bytes, policy: ImagePolicy, param: str) -> Image.Image:
    """A NIfTI volume through the model layer's reader (its default slice), with the slice
    size checked from the header and gzip inflated under a fixed bound first."""
    from lingshu.core.errors import SampleError

    def invalid(why: str) -> ApiError:
        return bad_request(f"the NIfTI file {why}", param=param, code="invalid_image")

    raw = data
    if data[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(data, MAX_NIFTI_BYTES + 1)
        except zlib.error:
            raise invalid("could not be decompressed; the gzip stream is corrupt") from None
        if len(raw) > MAX_NIFTI_BYTES:
            raise ApiError(
                413,
                f"the NIfTI volume inflates to more than {MAX_NIFTI_BYTES // 2**20} MiB",
                param=param,
                code="image_too_large",
            )
    shape = _nifti_shape(raw)
    if shape is None:
        raise invalid("could not be read; it is not NIfTI-1/2 or its header is corrupt")
    rows, cols = (list(shape) + [1, 1])[:2]
    if rows * cols > policy.max_pixels:
        raise _too_large(cols, rows, policy, param)
    try:
        return _load_via_file(raw, ".nii")
    except SampleError:
        raise invalid("could not be decoded; it is truncated or corrupt") from None


def _nifti_shape(raw: bytes) -> tuple[int, ...] | None:
    import nibabel as nib

    try:
        if raw[344:348] in (b"n+1\x00", b"ni1\x00"):
            header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw[:348]))
        elif raw[4:8] in (b"n+2\x00", b"ni2\x00"):
            header = nib.Nifti2Header.from_fileobj(io.BytesIO(raw[:540]))
        else:
            return None
        return tuple(int(n) for n in header.get_data_shape())
    except Exception:  # nibabel raises several types for a corrupt header
        return None


# -- remote images ------------------------------------------------------------------------


def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to simulate DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_allowed(address: str, trusted: tuple[str, ...] = ()) -> bool:
    """Whether the server may connect to ``address``: globally routable only, so never
    loopback, RFC 1918 / unique-local, link-local (169.254.169.254, the cloud metadata
    service, is one), shared (100.64/10), reserved, unspecified or multicast; an
    IPv4-mapped IPv6 address is judged by its IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in ipaddress.ip_network(net, strict=False) for net in trusted):
        return True
    return ip.is_global and not ip.is_multicast


def _fetch(url: str, policy: ImagePolicy, param: str) -> bytes:
    import httpx

    def unreachable() -> ApiError:
        # One message for closed ports, refused connections, timeouts and HTTP errors.
        return bad_request(
            "could not fetch the image URL: no image could be retrieved from that address",
            param=param,
            code="image_fetch_failed",
        )

    def refused(why: str) -> ApiError:
        return bad_request(
            f"could not fetch the image URL: {why}", param=param, code="image_fetch_failed"
        )

    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        raise refused("the URL is malformed") from None
    with httpx.Client(
        timeout=policy.remote_timeout_s, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            if target.scheme not in ("http", "https") or not target.host:
                raise refused("only http(s) URLs with a host name are fetched")
            port = target.port or (443 if target.scheme == "https" else 80)
            try:
                addresses = _resolve(target.host, port)
            except (OSError, UnicodeError):
                raise unreachable() from None
            if not addresses or not all(
                address_allowed(a, policy.trusted_networks) for a in addresses
            ):
                raise refused(
                    "the host resolves to a loopback, private, link-local or otherwise "
                    "non-public address, which this server does not fetch from"
                )
            clean = target.copy_with(userinfo=b"")  # credentials in a URL are never sent
            pinned = clean.copy_with(host=addresses[0])
            request = client.build_request(
                "GET",
                pinned,
                headers={"Host": clean.netloc.decode("ascii")},
                extensions={"sni_hostname": target.host},
            )
            try:
                resp = client.send(request, stream=True)
            except httpx.HTTPError as e:
                log.info("remote image fetch failed: %s", type(e).__name__)
                raise unreachable() from None
            try:
                if resp.is_redirect and "location" in resp.headers:
                    try:
                        target = clean.join(resp.headers["location"])
                    except httpx.InvalidURL:
                        raise unreachable() from None
                    continue
                if resp.status_code != 200:
                    raise unreachable()
                return _read_bounded(resp, policy, param, unreachable)
            finally:
                resp.close()
        raise unreachable()  # too many redirects


def _read_bounded(
    resp: object, policy: ImagePolicy, param: str, unreachable: Callable[[], ApiError]
) -> bytes:
    import httpx

    chunks, size = [], 0
    try:
        for chunk in resp.iter_bytes():  # type: ignore[attr-defined]
            size += len(chunk)
            if size > policy.max_bytes:
                raise ApiError(
                    413,
                    f"the remote image exceeds {policy.max_bytes:,} bytes",
                    param=param,
                    code="image_too_large",
                )
            chunks.append(chunk)
    except httpx.HTTPError:
        raise unreachable() from None
    return b"".join(chunks)


def to_png_data_uri(image: Image.Image) -> str:
    """An image as ``data:image/png;base64,...``: what the web page shows for a DICOM."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
