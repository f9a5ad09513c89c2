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
    # the test server is on loopback, which only a trusted network lets through
    policy = ImagePolicy(
        max_pixels=1_000_000, allow_remote=True, max_bytes=4000, trusted_networks=("127.0.0.0/8",)
    )
    out = decode_image_url(f"{base}/ok.png", policy, "img")
    assert np.array_equal(np.asarray(out), np.asarray(random_image(4, 30, 20)))
    missing = refused(f"{base}/missing.png", policy)
    assert (missing.status, missing.code) == (400, "image_fetch_failed")
    big = refused(f"{base}/big.png", policy)
    assert (big.status, big.code) == (413, "image_too_large")
    down = refused("http://127.0.0.1:9/x.png", policy)  # nothing listens on port 9
    assert (down.status, down.code) == (400, "image_fetch_failed")


# -- NIfTI, as the README promises (issue 9) ----------------------------------------------


def _nibabel_file(name: str) -> bytes:
    from pathlib import Path

    import nibabel

    return (Path(nibabel.__file__).parent / "tests" / "data" / name).read_bytes()


@pytest.mark.parametrize(
    "name, mime",
    [("anatomical.nii", "application/octet-stream"), ("example4d.nii.gz", "application/gzip")],
)
def test_nifti_data_uris_decode_as_the_model_layer_reads_the_file(tmp_path, name, mime):
    from lingshu.models.images import load_image

    raw = _nibabel_file(name)
    (tmp_path / name).write_bytes(raw)
    out = decode_image_url(data_uri(raw, mime), POLICY, "img")
    assert np.array_equal(np.asarray(out), np.asarray(load_image(tmp_path / name)))


def test_nifti_slice_over_the_pixel_limit_is_refused_before_reading():
    raw = _nibabel_file("anatomical.nii")  # 33 x 41 slices
    err = refused(data_uri(raw, "application/octet-stream"), ImagePolicy(max_pixels=1000))
    assert (err.status, err.code) == (413, "image_too_large")


def test_gzip_that_is_not_nifti_is_a_400():
    import gzip

    err = refused(data_uri(gzip.compress(b"not a volume" * 100), "application/gzip"))
    assert (err.status, err.code) == (400, "invalid_image")


def test_the_page_offers_nifti_files():
    from lingshu.serve.app import STATIC_DIR

    html = (STATIC_DIR / "index.html").read_text()
    assert ".nii" in html and ".nii.gz" in html and "NIfTI" in html


# -- remote images: no internal addresses, no credentials, one failure message ------------


@pytest.fixture()
def fake_dns(monkeypatch):
    """Names resolve only through this table; nothing leaves the machine."""
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        if host in table:
            return table[host]
        try:
            import ipaddress

            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise OSError("name does not resolve") from None

    monkeypatch.setattr("lingshu.serve.remote._resolve", resolve)
    return table


@pytest.fixture()
def recording_host():
    """A loopback server recording each request's headers; /ok.png, /to?url=... redirects."""
    seen: list[dict] = []
    png = png_bytes(random_image(5, 20, 10))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            if self.path.startswith("/to?"):
                self.send_response(302)
                self.send_header("Location", self.path[len("/to?") :])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = png if self.path == "/ok.png" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], seen, png
    httpd.shutdown()
    httpd.server_close()


REMOTE = ImagePolicy(max_pixels=1_000_000, allow_remote=True)
TRUSTING_LOOPBACK = ImagePolicy(max_pixels=1_000_000, allow_remote=True, trusted_networks=("127.0.0.1/32",))


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.3.4.5", "10.0.0.7", "172.16.5.4", "192.168.1.1", "169.254.169.254",
     "100.100.100.200", "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "224.0.0.1"],
)
def test_internal_addresses_are_refused_after_dns(fake_dns, address):
    fake_dns["images.example"] = [address]
    err = refused("http://images.example/x.png", REMOTE)
    assert (err.status, err.code) == (400, "image_fetch_failed") and "non-public" in err.message


def test_one_internal_address_among_public_ones_is_refused(fake_dns):
    fake_dns["mixed.example"] = ["93.184.216.34", "10.0.0.1"]
    assert "non-public" in refused("http://mixed.example/x.png", REMOTE).message


def test_literal_loopback_is_refused_without_connecting(recording_host):
    port, seen, _ = recording_host
    err = refused(f"http://127.0.0.1:{port}/ok.png", REMOTE)
    assert "non-public" in err.message and seen == []


def test_redirect_to_an_internal_address_is_refused(fake_dns, recording_host):
    """The first hop is allowed (a public name pinned to the test server); its redirect to
    the metadata address is checked again and refused, without a request."""
    port, seen, _ = recording_host
    fake_dns["public.example"] = ["127.0.0.1"]
    policy = ImagePolicy(max_pixels=1_000_000, allow_remote=True, trusted_networks=("127.0.0.1/32",))
    err = refused(f"http://public.example:{port}/to?http://169.254.169.254/latest/meta-data", policy)
    assert "non-public" in err.message
    assert [r["path"] for r in seen] == ["/to?http://169.254.169.254/latest/meta-data"]
    fake_dns["internal.example"] = ["192.168.0.10"]
    err = refused(f"http://public.example:{port}/to?http://internal.example/x.png", policy)
    assert "non-public" in err.message


def test_connection_goes_to_the_checked_address_and_keeps_the_host_name(fake_dns, recording_host):
    port, seen, png = recording_host
    fake_dns["pacs.example"] = ["127.0.0.1"]
    out = decode_image_url(f"http://pacs.example:{port}/ok.png", TRUSTING_LOOPBACK, "img")
    assert np.array_equal(np.asarray(out), np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    assert seen[-1]["host"] == f"pacs.example:{port}"


def test_url_credentials_are_never_sent(fake_dns, recording_host):
    port, seen, _ = recording_host
    decode_image_url(f"http://alice:s3cret@127.0.0.1:{port}/ok.png", TRUSTING_LOOPBACK, "img")
    decode_image_url(
        f"http://127.0.0.1:{port}/to?http://bob:pw@127.0.0.1:{port}/ok.png", TRUSTING_LOOPBACK, "img"
    )
    assert len(seen) == 3 and all("authorization" not in r for r in seen), seen
    assert all("s3cret" not in str(r) and "bob" not in r.get("host", "") for r in seen)


def test_open_and_closed_ports_give_the_same_error(fake_dns, recording_host):
    port, _, _ = recording_host
    closed = socket_free_port()
    open_missing = refused(f"http://127.0.0.1:{port}/missing.png", TRUSTING_LOOPBACK)
    closed_port = refused(f"http://127.0.0.1:{closed}/x.png", TRUSTING_LOOPBACK)
    unresolvable = refused("http://no-such-host.example/x.png", TRUSTING_LOOPBACK)
    assert open_missing.message == closed_port.message == unresolvable.message
    assert (open_missing.status, open_missing.code) == (closed_port.status, closed_port.code)


def socket_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens
