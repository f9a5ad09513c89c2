"""Server cases of ``scripts/attack_cases.py`` (issue 22 points 5-8): a real uvicorn server
over the tiny Qwen2.5-VL in its own process, attacked over HTTP.

The server process is started by :func:`serving` (``python scripts/attack_server.py
--serve MODEL PORT``): the real app (``lingshu.serve.app.create_app``) with remote images
on and loopback trusted, so that a local "bad host" (slow drip, redirects to ``data:``,
endless or huge bodies) stands for a public one; everything else is the shipped default
policy (25 M pixels per image, 100 M per request, 16 images, 512 MiB of volumes) except
the remote deadline, 3 s instead of 10 s, to keep the script short.

Acceptable: a 4xx in OpenAI's error shape with a one-line message (no traceback, no path),
answered before the deadline; never a 5xx, a hang or a dropped connection. After the bombs
the server's resident memory must stay under 3 GiB (the issue saw 2.6 GB never released).
"""

from __future__ import annotations

import base64
import gzip
import http.server
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

REMOTE_DEADLINE_S = 3.0
Case = tuple[str, str, Callable[[str], tuple[bool, str]]]  # (class, name, run(url))


def _serve(model: str, port: int) -> None:
    import uvicorn

    from lingshu.inference import Engine
    from lingshu.models import LoadOptions, load_model
    from lingshu.serve.app import create_app
    from lingshu.serve.images import ImagePolicy
    from lingshu.serve.settings import ServerSettings

    engine = Engine(load_model(model, LoadOptions(device="cpu")), max_batch_size=8,
                    batch_wait_s=0.02)
    policy = ImagePolicy(allow_remote=True, trusted_networks=("127.0.0.0/8",),
                         remote_timeout_s=REMOTE_DEADLINE_S)
    settings = ServerSettings(served_model_name="tiny", images=policy,
                              allowed_hosts=("localhost", "127.0.0.1"), default_temperature=0.0)
    uvicorn.run(create_app(engine, settings), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(model: Path, log: Path) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of a server process, killed at the end."""
    import httpx

    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, __file__, "--serve", str(model), str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url, proc.pid
    finally:
        proc.kill()
        proc.wait()


# -- request builders -----------------------------------------------------------------------


def png(width: int, height: int, data: bytes = b"") -> bytes:
    """A PNG whose header claims width x height (the data need not match: a bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", data or zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def gif(width: int, height: int) -> bytes:
    return (b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" +
            b",\x00\x00\x00\x00" + struct.pack("<HH", width, height) + b"\x00\x02\x02D\x01\x00;")


def bmp(width: int, height: int) -> bytes:
    head = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + head + b"\0" * 16


def real_image(fmt: str, side: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    extra = {"compression": "tiff_deflate"} if fmt == "TIFF" else {}  # small upload, same pixels
    Image.new("RGB", (side, side), (120, 30, 200)).save(buf, format=fmt, **extra)
    return buf.getvalue()


def nifti(dims: tuple[int, ...], payload: bytes = b"", gz: bool = True) -> bytes:
    """A NIfTI-1 int16 volume header declaring ``dims`` (nifti1.h field offsets)."""
    dim = [len(dims), *dims] + [1] * (7 - len(dims))
    head = bytearray(352)
    struct.pack_into("<i", head, 0, 348)
    struct.pack_into("<8h", head, 40, *dim)
    struct.pack_into("<hh", head, 70, 4, 16)
    struct.pack_into("<8f", head, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", head, 108, 352.0)
    head[344:348] = b"n+1\x00"
    raw = bytes(head) + payload
    return gzip.compress(raw, 1) if gz else raw


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def chat(images: list[str] = (), text: str = "what is this?", **kw) -> dict:
    content = [{"type": "image_url", "image_url": {"url": u}} for u in images]
    body = {"model": "tiny", "max_tokens": 2, "temperature": 0,
            "messages": [{"role": "user", "content": [*content, {"type": "text", "text": text}]}]}
    return {**body, **kw}


def post(url: str, body: dict | str, timeout: float = 60.0):
    import httpx

    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(f"{url}/v1/chat/completions", content=content.encode(),
                      headers={"Content-Type": "application/json"}, timeout=timeout)


def judged(resp, *, ok: bool = False, seconds: float | None = None, limit: float = 60) -> tuple[bool, str]:
    """A 4xx with a one-line OpenAI error (or a 200 where ``ok``), within ``limit`` s."""
    status = resp.status_code
    if seconds is not None and seconds > limit:
        return False, f"{status} after {seconds:.1f} s"
    if ok and status == 200:
        return True, "200"
    if not 400 <= status < 500:
        return False, f"status {status}: {resp.text[:200]}"
    try:
        message = resp.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return False, f"{status} without an error body: {resp.text[:200]}"
    if "\n" in message or "Traceback" in message or "/work/" in message:
        return False, f"{status}: not one line: {message[:200]}"
    return True, f"{status}"


def _timed(url: str, body: dict | str, limit: float = 60, ok: bool = False) -> tuple[bool, str]:
    import httpx

    start = time.monotonic()
    try:
        resp = post(url, body, timeout=limit + 30)
    except httpx.HTTPError as e:
        return False, f"no answer: {type(e).__name__}"
    return judged(resp, ok=ok, seconds=time.monotonic() - start, limit=limit)


# -- 5: JSON integers past Python's 4,300-digit limit ---------------------------------------

INT_PLACES = {
    "max_tokens": lambda n: chat(max_tokens=n), "temperature": lambda n: chat(temperature=n),
    "seed": lambda n: chat(seed=n), "top_p": lambda n: chat(top_p=n), "n": lambda n: chat(n=n),
    "unknown field": lambda n: chat(extra_field=n), "in a list": lambda n: chat(stop=[n]),
    "nested": lambda n: chat(metadata={"a": {"b": [n]}}),
    "message content": lambda n: {**chat(), "messages": [{"role": "user", "content": n}]},
    "image url": lambda n: {**chat(), "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": n}}]}]},
}


def huge_integer_cases() -> list[Case]:
    cases = []
    for place, build in INT_PLACES.items():
        for digits in (4301, 4400, 10_000, 100_000, 1_000_000):
            for sign in ("", "-"):
                def run(url, build=build, digits=digits, sign=sign):
                    body = json.dumps(build("@N@")).replace('"@N@"', sign + "9" * digits)
                    return _timed(url, body)
                cases.append(("5 huge JSON integers", f"{place} {sign}{digits} digits", run))
    return cases


# -- 6, 7: misbehaving remote image servers -------------------------------------------------


class BadHost:
    """A loopback HTTP server standing for a public host that misbehaves."""

    def __init__(self) -> None:
        routes = self.routes = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                routes.get(self.path, lambda h: h.send_error(404))(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def redirect(self, path: str, code: int, location: str) -> str:
        def go(h):
            h.send_response(code)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()
        self.routes[path] = go
        return self.url + path

    def body(self, path: str, chunks: Iterator[bytes] | Callable[[], Iterator[bytes]],
             length: int | None, delay: float = 0.0) -> str:
        def go(h):
            h.send_response(200)
            if length is not None:
                h.send_header("Content-Length", str(length))
            h.end_headers()
            for c in (chunks() if callable(chunks) else chunks):
                try:
                    h.wfile.write(c)
                    h.wfile.flush()
                except OSError:
                    return
                time.sleep(delay)
        self.routes[path] = go
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


REDIRECT_TARGETS = {
    "data png": data_uri(real_image("PNG", 4)), "data html": "data:text/html,<script>x</script>",
    "data huge": data_uri(b"\0" * 300_000), "file": "file:///etc/passwd",
    "javascript": "javascript:alert(1)", "ftp": "ftp://127.0.0.1/x.png",
    "gopher": "gopher://127.0.0.1:25/_HELO", "metadata": "http://169.254.169.254/latest/meta-data",
    "relative loop": "/loop", "empty": "",
}


def redirect_cases(bad: BadHost) -> list[Case]:
    bad.redirect("/loop", 302, "/loop")
    cases = []
    for name, target in REDIRECT_TARGETS.items():
        for code in (301, 302, 303, 307, 308):
            link = bad.redirect(f"/r-{code}-{len(cases)}", code, target)
            cases.append(("6 redirect to data:/other schemes", f"{code} -> {name}",
                          lambda url, link=link: _timed(url, chat([link]), limit=REMOTE_DEADLINE_S + 5)))
    return cases


def slow_cases(bad: BadHost) -> list[Case]:
    limit = REMOTE_DEADLINE_S + 5
    drip = bad.body("/drip", lambda: (b"\0" for _ in range(60)), 1000, delay=2.0)
    fast_drip = bad.body("/fast-drip", lambda: (b"\0" for _ in range(100_000)), 100_000, 0.01)
    endless = bad.body("/endless", lambda: (b"\0" * 65536 for _ in range(10_000)), None)
    huge = bad.body("/huge", lambda: iter(()), 10**9)
    lying = bad.body("/lying", lambda: (b"\0" * 65536 for _ in range(1000)), 100)
    cases: list[Case] = [
        ("7 slow or huge remote image", name,
         lambda url, link=link: _timed(url, chat([link]), limit=limit))
        for name, link in (("1 byte every 2 s", drip), ("100 bytes/s", fast_drip),
                           ("endless chunked body", endless), ("declares 1 GB", huge),
                           ("declares 100 B, sends 64 MB", lying))
    ]
    cases += [("7 slow or huge remote image", f"{k} drips in one request",
               lambda url, k=k: _timed(url, chat([drip] * k), limit=limit)) for k in (2, 4, 8)]
    for k in (12, 45):
        cases.append(("7 slow or huge remote image", f"{k} drips in flight, plain request answered",
                      lambda url, k=k: _api_stays_up(url, drip, k)))
    return cases


def _api_stays_up(url: str, slow: str, k: int) -> tuple[bool, str]:
    """``k`` slow fetches in flight: a plain request must still be answered in 10 s, and
    every slow one must end (429 or the deadline's 400) within the deadline + 10 s."""
    with ThreadPoolExecutor(k) as pool:
        slow_runs = [pool.submit(_timed, url, chat([slow]), REMOTE_DEADLINE_S + 10) for _ in range(k)]
        time.sleep(0.5)
        plain_ok, plain_why = _timed(url, chat(), limit=10, ok=True)
        results = [f.result() for f in slow_runs]
    bad = [why for ok, why in results if not ok]
    return plain_ok and not bad, f"plain: {plain_why}; slow not acceptable: {bad[:2]}"


# -- 8: pixel bombs and NIfTI bombs ---------------------------------------------------------


def bomb_cases(pid: int) -> list[Case]:
    cls = "8 pixel and NIfTI bombs"
    cases: list[Case] = []
    sides = ((5001, 5001), (4990, 5100), (20_000, 20_000), (65_535, 65_535), (1, 30_000_000),
             (30_000_000, 1), (2**31 - 1, 2**31 - 1))
    for w, h in sides:
        for name, make, mime in (("PNG", png, "image/png"), ("GIF", gif, "image/gif"),
                                 ("BMP", bmp, "image/bmp")):
            if name == "GIF" and max(w, h) > 65_535:
                continue
            body = chat([data_uri(make(w, h), mime)])
            cases.append((cls, f"{name} header {w}x{h}", lambda url, b=body: _timed(url, b)))
    for k in (5, 8, 16, 17, 40):  # 4990x4990 each: over the 100 M per request from the 5th
        body = chat([data_uri(real_image("PNG", 64))] + [data_uri(png(4990, 4990))] * (k - 1))
        cases.append((cls, f"{k} images of 4990x4990 in one request",
                      lambda url, b=body: _timed(url, b)))
    for fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        body = chat([data_uri(real_image(fmt, 4000), f"image/{fmt.lower()}")] * 8)
        cases.append((cls, f"8 real {fmt} images of 4000x4000 (128 M pixels)",
                      lambda url, b=body: _timed(url, b)))
    dims = ((512, 512, 512, 2), (32767, 32767, 32767), (4096, 4096, 64), (10, 10, 1),
            (2048, 2048, 70))
    for d in dims:
        for gz in (True, False):
            payload = b"\0" * (200 * 2**20 if d == (10, 10, 1) and gz else 64)
            body = chat([data_uri(nifti(d, payload, gz), "application/gzip" if gz else
                                  "application/octet-stream")])
            cases.append((cls, f"NIfTI {'x'.join(map(str, d))}{' gz' if gz else ''}",
                          lambda url, b=body: _timed(url, b, ok=True)))
    four = chat([data_uri(nifti((2048, 2048, 70), b"\0" * 64))] * 4)
    cases.append((cls, "four NIfTI bombs in one request", lambda url: _timed(url, four)))
    cases.append((cls, "server memory after the bombs under 3 GiB", lambda url: _rss_ok(pid)))
    return cases


def _rss_ok(pid: int) -> tuple[bool, str]:
    time.sleep(2)
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    return rss_kb < 3 * 2**20, f"RSS {rss_kb / 2**20:.2f} GiB"


def server_cases(model: Path, work: Path, sample: bool) -> list[tuple[str, str, bool, str]]:
    """Run every server case; (class, name, acceptable, why) each."""
    results = []
    bad = BadHost()
    try:
        with serving(model, work / "server.log") as (url, pid):
            cases = (huge_integer_cases() + redirect_cases(bad) + slow_cases(bad) +
                     bomb_cases(pid))
            if sample:
                cases = cases[::12]
            for cls, name, run in cases:
                try:
                    ok, why = run(url)
                except Exception as e:  # noqa: BLE001 - a case that cannot run is not acceptable
                    ok, why = False, f"{type(e).__name__}: {e}"
                results.append((cls, name, ok, why))
    finally:
        bad.close()
    return results


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _serve(sys.argv[2], int(sys.argv[3]))
