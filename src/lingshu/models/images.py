"""Read image files into RGB PIL images, with errors that name the file.

Every backend that shows a model an image goes through :func:`load_image` (pixels for the
``hf`` backend) or :func:`image_to_data_uri` (bytes for OpenAI-compatible endpoints and
vLLM), so a file is judged the same way everywhere: a missing, truncated or unsupported
file raises :class:`~lingshu.core.errors.SampleError` naming the file, and the runner
records it for that sample only.

Formats are recognised by their magic bytes first, so a PNG saved as ``.jpg`` still loads;
the extension only decides between "corrupt" and "unsupported" when no signature matches.
Readers live in a list keyed by signature and extension: medical formats (DICOM, NIfTI)
are added by :func:`register_reader` without touching the callers.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from lingshu.core.errors import SampleError

HEADER_BYTES = 512
"""Bytes read to recognise a format; enough for DICOM's signature at offset 128."""


@dataclass(frozen=True)
class ImageReader:
    """How to recognise and decode one file format.

    ``matches`` sees the first :data:`HEADER_BYTES` bytes of the file. ``mime`` is set when
    the original bytes may be sent to an API as they are (common web formats);
    other formats are re-encoded as PNG for data URIs.
    """

    name: str
    extensions: tuple[str, ...]
    matches: Callable[[bytes], bool]
    read: Callable[[Path], Image.Image]
    mime: str | None = None


_READERS: list[ImageReader] = []


def register_reader(reader: ImageReader, *, before: str | None = None) -> ImageReader:
    """Add a format. Names must be unique. Readers are tried in order; ``before`` puts
    this one ahead of the named reader (a DICOM file may carry a TIFF header in its
    128-byte preamble, so DICOM must be recognised before TIFF)."""
    if any(r.name == reader.name for r in _READERS):
        raise ValueError(f"duplicate image reader {reader.name!r}")
    if before is None:
        _READERS.append(reader)
    else:
        names = [r.name for r in _READERS]
        if before not in names:
            raise ValueError(f"no image reader {before!r} to insert {reader.name!r} before")
        _READERS.insert(names.index(before), reader)
    return reader


def supported_formats() -> list[str]:
    return [r.name for r in _READERS]


def load_image(path: str | Path) -> Image.Image:
    """Decode ``path`` into an 8-bit RGB image.

    16-bit and float grayscale (common for radiographs saved as PNG/TIFF) is rescaled
    min-to-max into 0-255 rather than clipped, which would turn most of the image white.
    Multi-frame files give their first frame.
    """
    _, image = _decode(Path(path))
    return to_rgb(image)


def image_to_data_uri(path: str | Path) -> str:
    """``data:<mime>;base64,...`` for an API request.

    The file is decoded first (so a corrupt file fails here, for its sample only). Web
    formats holding 8-bit pixels are sent byte for byte; anything else (BMP, TIFF, 16-bit
    PNG, medical formats) is sent as the PNG of what :func:`load_image` returns, so an
    endpoint sees the same pixels our ``hf`` backend does.
    """
    path = Path(path)
    reader, image = _decode(path)
    if reader.mime is not None and image.mode in _EIGHT_BIT_MODES:
        data, mime = path.read_bytes(), reader.mime
    else:
        buf = io.BytesIO()
        to_rgb(image).save(buf, format="PNG")
        data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"})


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; high-bit-depth grayscale is min-max rescaled."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) * (255.0 / (hi - lo))
        return Image.fromarray(np.round(scaled).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become black, as on a radiology viewer's background.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _reader_for(path: Path) -> ImageReader:
    try:
        with path.open("rb") as fh:
            header = fh.read(HEADER_BYTES)
    except FileNotFoundError:
        raise SampleError(f"{path}: image file not found") from None
    except IsADirectoryError:
        raise SampleError(f"{path}: is a directory, expected an image file") from None
    except OSError as e:
        raise SampleError(f"{path}: cannot read image file ({e.strerror})") from None
    for reader in _READERS:
        if reader.matches(header):
            return reader
    ext = path.suffix.lower()
    known = ", ".join(supported_formats())
    for reader in _READERS:
        if ext in reader.extensions:
            what = "empty file" if not header else "its first bytes are not a valid header"
            raise SampleError(
                f"{path}: not a valid {reader.name} file ({what}); the file is corrupt or "
                f"mislabelled (supported: {known})"
            )
    raise SampleError(
        f"{path}: unsupported image format {ext or '(no extension)'!r}; expected one of: {known}"
    )


def _decode(path: Path) -> tuple[ImageReader, Image.Image]:
    reader = _reader_for(path)
    try:
        return reader, reader.read(path)
    except SampleError:
        raise
    except Image.DecompressionBombError as e:
        raise SampleError(f"{path}: image too large to decode safely ({e})") from None
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as e:
        raise SampleError(
            f"{path}: cannot decode {reader.name} image ({e}); the file is truncated or corrupt"
        ) from None


def _read_with_pil(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.seek(0)
        im.load()  # decode now: a truncated file fails here, not inside a model
        return im.copy()


register_reader(
    ImageReader(
        "PNG", (".png",), lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"), _read_with_pil, "image/png"
    )
)
register_reader(
    ImageReader(
        "JPEG",
        (".jpg", ".jpeg", ".jpe", ".jfif"),
        lambda h: h.startswith(b"\xff\xd8\xff"),
        _read_with_pil,
        "image/jpeg",
    )
)
register_reader(ImageReader("BMP", (".bmp", ".dib"), lambda h: h.startswith(b"BM"), _read_with_pil))
register_reader(
    ImageReader(
        "TIFF", (".tif", ".tiff"), lambda h: h[:4] in (b"II*\x00", b"MM\x00*"), _read_with_pil
    )
)
register_reader(
    ImageReader(
        "GIF", (".gif",), lambda h: h[:6] in (b"GIF87a", b"GIF89a"), _read_with_pil, "image/gif"
    )
)
register_reader(
    ImageReader(
        "WebP",
        (".webp",),
        lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP",
        _read_with_pil,
        "image/webp",
    )
)
