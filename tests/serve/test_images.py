"""Decoding request images: exact pixels for good files, a 4xx with a clear code for every
kind of bad one, and limits checked before any pixel is decoded."""

from __future__ import annotations

import http.server
import io
import struct
import threading
import zlib

import numpy as np
import pytest
from PIL import Image
from serve_helpers import data_uri, png_bytes, random_image

from lingshu.serve.errors import ApiError
from lingshu.serve.images import ImagePolicy, decode_image_url, to_png_data_uri

POLICY = ImagePolicy(max_pixels=1_000_000)


def refused(url: str, policy: ImagePolicy = POLICY) -> ApiError:
    with pytest.raises(ApiError) as info:
        decode_image_url(url, policy, "img")
    assert info.value.param == "img"
    assert "Traceback" not in info.value.message and "/tmp" not in info.value.message
    return info.value


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels but holds almost no data:
    the shape of a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def test_png_pixels_are_exact():
    image = random_image(5, 40, 30)
    out = decode_image_url(data_uri(png_bytes(image)), POLICY, "img")
    assert out.mode == "RGB" and out.size == (40, 30)
    assert np.array_equal(np.asarray(out), np.asarray(image))


def test_jpeg_decodes_as_pil_does():
    buf = io.BytesIO()
    random_image(6, 64, 48).save(buf, format="JPEG", quality=90)
    out = decode_image_url(data_uri(buf.getvalue(), "image/jpeg"), POLICY, "img")
    assert np.array_equal(
        np.asarray(out), np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    )


def test_sixteen_bit_grayscale_is_rescaled_min_to_max():
    arr = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    out = np.asarray(decode_image_url(data_uri(buf.getvalue()), POLICY, "img"))
    # (v - 0) * 255 / 4000, rounded: 0, 63.75 -> 64, 127.5 -> 128, 255
    assert out[..., 0].tolist() == [[0, 64], [128, 255]]
    assert np.array_equal(out[..., 0], out[..., 2])


def test_whitespace_in_base64_is_tolerated():
    uri = data_uri(png_bytes(random_image(1, 8, 8)))
    head, payload = uri.split(",", 1)
    wrapped = head + "," + "\n".join(payload[i : i + 60] for i in range(0, len(payload), 60))
    assert decode_image_url(wrapped, POLICY, "img").size == (8, 8)


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("data:image/png;base64,@@@not-base64@@@", 400, "invalid_base64"),
        ("data:image/png;base64,iVBORw0KGgo", 400, "invalid_base64"),  # bad padding
        ("data:image/png,rawbytes", 400, "invalid_image_url"),  # not base64
        ("data:text/plain;base64,aGVsbG8=", 400, "invalid_image"),
        ("data:image/png;base64,", 400, "invalid_image"),  # empty
        ("data:image/png;base64,aGVsbG8gd29ybGQ=", 400, "invalid_image"),  # not an image
        ("data:nonsense", 400, "invalid_image_url"),
        ("file:///etc/passwd", 400, "invalid_image_url"),
        ("/etc/hostname", 400, "invalid_image_url"),
        ("ftp://example.org/x.png", 400, "invalid_image_url"),
        ("http://127.0.0.1:9/x.png", 400, "remote_images_disabled"),
        ("https://example.org/x.png", 400, "remote_images_disabled"),
    ],
)
def test_bad_urls_are_refused_with_a_code(url, status, code):
    err = refused(url)
    assert (err.status, err.code) == (status, code)
    assert "Traceback" not in err.message and "/etc" not in err.message


def test_truncated_png_is_a_400():
    data = png_bytes(random_image(2, 50, 50))
    err = refused(data_uri(data[: len(data) // 2]))
    assert (err.status, err.code) == (400, "invalid_image")
    assert "truncated or corrupt" in err.message


def test_formats_outside_the_list_are_not_decoded():
    # PIL could open EPS through Ghostscript; the server must not even try.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    err = refused(data_uri(eps, "image/x-eps"))
    assert (err.status, err.code) == (400, "invalid_image")


def test_pixel_limit_is_checked_before_decoding():
    err = refused(data_uri(png_header_only(9000, 9000)))  # 81 Mpx: under PIL's own guard
    assert (err.status, err.code) == (413, "image_too_large")
    assert "9000 x 9000" in err.message and "1,000,000" in err.message


def test_decompression_bomb_beyond_pil_guard_is_a_413():
    err = refused(data_uri(png_header_only(100_000, 100_000)), ImagePolicy(max_pixels=10**12))
    assert (err.status, err.code) == (413, "image_too_large")


def test_real_image_over_the_limit():
    err = refused(data_uri(png_bytes(random_image(3, 200, 100))), ImagePolicy(max_pixels=19_999))
    assert err.status == 413 and "200 x 100 = 20,000 pixels" in err.message


def test_dicom_is_read_by_the_model_layer():
    from pydicom.data import get_testdata_file

    from lingshu.models.images import load_image

    path = get_testdata_file("CT_small.dcm", download=False)
    data = open(path, "rb").read()
    uri = data_uri(data, "application/dicom")
    out = decode_image_url(uri, POLICY, "img")
    assert np.array_equal(np.asarray(out), np.asarray(load_image(path)))
    # The header's Rows x Columns (128 x 128) is checked first.
    err = refused(uri, ImagePolicy(max_pixels=128 * 128 - 1))
    assert err.status == 413
    truncated = refused(data_uri(data[:1000], "application/dicom"))
    assert truncated.status == 400


def test_png_data_uri_round_trip():
    image = random_image(9, 20, 10)
    back = decode_image_url(to_png_data_uri(image), POLICY, "img")
    assert np.array_equal(np.asarray(back), np.asarray(image))


@pytest.fixture()
def image_host():
    """A loopback HTTP server with /ok.png, /big.png and nothing else."""
    files = {"/ok.png": png_bytes(random_image(4, 30, 20)), "/big.png": b"\0" * 5000}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()


def test_remote_images_when_allowed(image_host):
    base, files = image_host
    policy = ImagePolicy(max_pixels=1_000_000, allow_remote=True, max_bytes=4000)
    out = decode_image_url(f"{base}/ok.png", policy, "img")
    assert np.array_equal(np.asarray(out), np.asarray(random_image(4, 30, 20)))
    missing = refused(f"{base}/missing.png", policy)
    assert (missing.status, missing.code) == (
        400,
        "image_fetch_failed",
    ) and "HTTP 404" in missing.message
    big = refused(f"{base}/big.png", policy)
    assert (big.status, big.code) == (413, "image_too_large")
    down = refused("http://127.0.0.1:9/x.png", policy)  # nothing listens on port 9
    assert (down.status, down.code) == (400, "image_fetch_failed")
