"""``lingshu serve`` as a real process: options, the API key from the environment, the page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lingshu.cli.serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc


def wait_healthy(url, proc, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
        try:
            return httpx.get(f"{url}/health", timeout=2).json()
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError("server did not come up")


def test_help_lists_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "lingshu.cli.serve", "--help"],
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
    ).stdout
    for opt in (
        "--model",
        "--host",
        "--port",
        "--api-key",
        "LINGSHU_API_KEY",
        "--ui",
        "--allow-remote-images",
        "--max-body-bytes",
        "--max-image-pixels",
        "--batch-size",
        "--served-model-name",
    ):
        assert opt in out, opt
    assert "127.0.0.1" in out  # the default host is loopback


def test_serve_process_with_key_from_environment(tiny_model_dir):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(
        ["--model", str(tiny_model_dir), "--port", str(port), "--ui", "--batch-size", "4"],
        {"LINGSHU_API_KEY": "env-key"},
    )
    try:
        assert wait_healthy(url, proc) == {"status": "ok", "auth_required": True}
        assert httpx.get(f"{url}/v1/models").status_code == 401
        models = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer env-key"}).json()
        name = tiny_model_dir.name  # default served name: the model directory's name
        assert [m["id"] for m in models["data"]] == [name]
        body = {"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
        resp = httpx.post(
            f"{url}/v1/chat/completions",
            json=body,
            headers={"Authorization": "Bearer env-key"},
            timeout=60,
        )
        assert resp.status_code == 200 and resp.json()["usage"]["completion_tokens"] <= 3
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and 'id="image-input"' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert "env-key" not in proc.stderr.read()  # the key is never printed


def test_bad_model_is_one_line_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lingshu.cli.serve", "--model", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_busy_port_fails_at_once(tiny_model_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "lingshu.cli.serve",
                "--model",
                str(tiny_model_dir),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "loading" not in proc.stderr  # refused before the model was loaded
