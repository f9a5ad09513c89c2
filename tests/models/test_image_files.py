"""Image files: every supported format decodes to the expected RGB pixels; bad files give a
SampleError naming the file; data URIs carry the right bytes and MIME type."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lingshu.core.errors import SampleError
from lingshu.models import images
from lingshu.models.images import ImageReader, image_to_data_uri, load_image, register_reader

REPO = Path(__file__).resolve().parents[2]
SLAKE_JPEGS = sorted((REPO / "data" / "benchmarks" / "slake" / "imgs").glob("*/source.jpg"))

PIXELS = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[10, 20, 30], [200, 100, 50], [0, 0, 0]]],
    dtype=np.uint8,
)


def _save(tmp_path: Path, name: str, fmt: str, array: np.ndarray = PIXELS) -> Path:
    path = tmp_path / name
    Image.fromarray(array).save(path, format=fmt)
    return path


@pytest.mark.parametrize(
    ("name", "fmt"), [("a.png", "PNG"), ("a.bmp", "BMP"), ("a.tif", "TIFF"), ("a.gif", "GIF")]
)
def test_lossless_formats_decode_to_the_exact_pixels(tmp_path, name, fmt):
    img = load_image(_save(tmp_path, name, fmt))
    assert img.mode == "RGB"
    assert np.array_equal(np.asarray(img), PIXELS)


def test_jpeg_decodes_to_rgb_of_the_right_size(tmp_path):
    img = load_image(_save(tmp_path, "a.jpg", "JPEG", np.full((16, 24, 3), 128, np.uint8)))
    assert img.mode == "RGB" and img.size == (24, 16)
    assert np.abs(np.asarray(img).astype(int) - 128).max() <= 2  # flat grey survives JPEG


def test_format_is_recognised_by_content_not_extension(tmp_path):
    path = _save(tmp_path, "really_a_png.jpg", "PNG")
    assert np.array_equal(np.asarray(load_image(path)), PIXELS)


def test_grayscale_is_replicated_into_three_channels(tmp_path):
    gray = np.array([[0, 77], [200, 255]], dtype=np.uint8)
    img = np.asarray(load_image(_save(tmp_path, "g.png", "PNG", gray)))
    assert np.array_equal(img, np.stack([gray] * 3, axis=-1))


def test_16bit_grayscale_is_rescaled_min_to_max(tmp_path):
    raw = np.array([[0, 1000], [32768, 65535]], dtype=np.uint16)
    path = tmp_path / "xray16.png"
    Image.fromarray(raw).save(path)
    # v * 255 / 65535, rounded: 0 -> 0, 1000 -> 3.89 -> 4, 32768 -> 127.502 -> 128, 65535 -> 255
    expected = np.array([[0, 4], [128, 255]], dtype=np.uint8)
    got = np.asarray(load_image(path))
    assert np.array_equal(got[..., 0], expected) and np.array_equal(got[..., 2], expected)


def test_transparent_pixels_become_black(tmp_path):
    rgba = np.array([[[255, 255, 255, 0], [255, 0, 0, 255]]], dtype=np.uint8)
    got = np.asarray(load_image(_save(tmp_path, "t.png", "PNG", rgba)))
    assert got.tolist() == [[[0, 0, 0], [255, 0, 0]]]


@pytest.mark.skipif(not SLAKE_JPEGS, reason="bundled SLAKE images not present")
def test_real_slake_jpeg_matches_pils_own_decoding():
    path = SLAKE_JPEGS[0]
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(np.asarray(load_image(path)), expected)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(SampleError, match=rf"{path}: image file not found"):
        load_image(path)


def test_truncated_png_is_reported_as_corrupt(tmp_path):
    good = _save(tmp_path, "good.png", "PNG", np.zeros((64, 64, 3), np.uint8) + 7)
    bad = tmp_path / "bad.png"
    bad.write_bytes(good.read_bytes()[:60])
    with pytest.raises(
        SampleError, match=rf"{bad}: cannot decode PNG image .*truncated or corrupt"
    ):
        load_image(bad)


def test_empty_file_with_image_extension(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(SampleError, match=rf"{path}: not a valid JPEG file \(empty file\)"):
        load_image(path)


def test_unsupported_format_lists_what_is_supported(tmp_path):
    path = tmp_path / "scan.xyz"
    path.write_bytes(b"\x00\x01not an image")
    with pytest.raises(
        SampleError, match=r"unsupported image format '\.xyz'; expected one of: PNG, JPEG"
    ):
        load_image(path)


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(SampleError, match="is a directory"):
        load_image(tmp_path)


def _decode_uri(uri: str) -> tuple[str, bytes]:
    head, data = uri.split(",", 1)
    assert head.endswith(";base64")
    return head[len("data:") : -len(";base64")], base64.b64decode(data)


def test_data_uri_sends_web_formats_byte_for_byte(tmp_path):
    png = _save(tmp_path, "a.png", "PNG")
    jpg = _save(tmp_path, "a.jpeg", "JPEG")
    assert _decode_uri(image_to_data_uri(png)) == ("image/png", png.read_bytes())
    assert _decode_uri(image_to_data_uri(jpg)) == ("image/jpeg", jpg.read_bytes())


def test_data_uri_reencodes_other_formats_as_png_with_the_same_pixels(tmp_path):
    mime, data = _decode_uri(image_to_data_uri(_save(tmp_path, "a.bmp", "BMP")))
    assert mime == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), PIXELS)


def test_data_uri_of_16bit_png_carries_the_rescaled_pixels(tmp_path):
    path = tmp_path / "x16.png"
    Image.fromarray(np.array([[0, 65535]], dtype=np.uint16)).save(path)
    mime, data = _decode_uri(image_to_data_uri(path))
    assert mime == "image/png"
    assert np.asarray(Image.open(io.BytesIO(data))).tolist() == [[[0, 0, 0], [255, 255, 255]]]


def test_data_uri_of_a_corrupt_file_fails_naming_it(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 4)
    with pytest.raises(SampleError, match=str(bad)):
        image_to_data_uri(bad)


def test_readers_can_be_added_by_signature(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "_READERS", list(images._READERS))
    register_reader(
        ImageReader(
            "FAKE",
            (".fake",),
            lambda h: h.startswith(b"FAKE"),
            lambda p: Image.new("L", (2, 1), color=9),
        )
    )
    path = tmp_path / "x.bin"
    path.write_bytes(b"FAKE....")
    assert np.asarray(load_image(path)).tolist() == [[[9, 9, 9], [9, 9, 9]]]
    with pytest.raises(ValueError, match="duplicate image reader 'FAKE'"):
        register_reader(ImageReader("FAKE", (), lambda h: False, lambda p: None))
