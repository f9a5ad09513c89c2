"""The openai backend against a real HTTP server on 127.0.0.1 speaking the chat API.

The server's behaviour is chosen by the request's text ("echo ...", "flaky ...", ...), and
it records every payload, so retries, errors, images and concurrency are checked on the
wire rather than on mocks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lingshu.inference import get_backend
from lingshu.inference.backends.openai import OpenAIBackend, OpenAIConfig
from lingshu.inference import GenerationParams, Request

PARAMS = GenerationParams(max_new_tokens=16, temperature=0.0, top_p=1.0, seed=3)


class ChatServer:
    """A deterministic OpenAI-compatible /v1/chat/completions endpoint."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.payloads: list[dict] = []
        self.headers: list[dict] = []
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.payloads.append(body)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    status, reply, extra_headers = server.respond(self.path, body)
                except BrokenPipeError:
                    return
                finally:
                    with server.lock:
                        server.in_flight -= 1
                data = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in extra_headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def count(self, key: str) -> int:
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            return self.calls[key]

    def respond(self, path: str, body: dict) -> tuple[int, dict, dict]:
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}, {}
        content = body["messages"][-1]["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        text = " ".join(p["text"] for p in parts if p["type"] == "text")
        kind, _, rest = text.partition(" ")
        n = self.count(text)
        if kind == "flaky" and n == 1:
            return 500, {"error": {"message": "upstream hiccup"}}, {}
        if kind == "ratelimited" and n == 1:
            return 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
        if kind == "bad":
            return 400, {"error": {"message": "messages[0]: invalid content"}}, {}
        if kind == "down":
            return 503, {"error": {"message": "overloaded"}}, {}
        if kind == "slow":
            time.sleep(float(rest.split()[0]))
        if kind == "nocontent":
            return 200, {"choices": [{"message": {"content": None}, "finish_reason": "length"}]}, {}
        if kind == "image":
            urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
            answers = []
            for url in urls:
                head, data = url.split(",", 1)
                answers.append(f"{head}|{hashlib.sha256(base64.b64decode(data)).hexdigest()}")
            answer = " ".join(answers)
        else:
            answer = f"answer to: {text} STOP trailing"
        usage = {"prompt_tokens": len(text.split()), "completion_tokens": 7, "total_tokens": 0}
        return (
            200,
            {"choices": [{"message": {"role": "assistant", "content": answer}}], "usage": usage},
            {},
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


def _backend(server: ChatServer, **kw) -> OpenAIBackend:
    options = dict(
        model="test-model",
        base_url=server.url,
        backoff_s=0.01,
        backoff_max_s=0.05,
        max_retries=3,
        timeout_s=5.0,
    )
    options.update(kw)
    return get_backend("openai", **options)


def _req(rid: str, text: str, images: tuple[Path, ...] = ()) -> Request:
    content = [{"type": "image", "image": str(p)} for p in images] + [
        {"type": "text", "text": text}
    ]
    return Request(id=rid, messages=[{"role": "user", "content": content}])


def test_answers_in_order_with_usage_and_payload(server):
    with _backend(server) as b:
        responses = b.generate([_req(str(i), f"echo question {i}") for i in range(5)], PARAMS)
    assert [r.text for r in responses] == [
        f"answer to: echo question {i} STOP trailing" for i in range(5)
    ]
    assert all(
        r.error is None and r.prompt_tokens == 3 and r.completion_tokens == 7 for r in responses
    )
    body = server.payloads[0]
    assert body["model"] == "test-model"
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (
        16,
        0.0,
        1.0,
        3,
    )
    assert "stop" not in body
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": body["messages"][0]["content"][0]["text"]}],
        }
    ]


def test_stop_strings_are_sent_and_applied(server):
    params = GenerationParams(max_new_tokens=8, stop=("STOP",))
    with _backend(server) as b:
        response = b.generate([_req("s", "echo x")], params)[0]
    assert server.payloads[0]["stop"] == ["STOP"]
    assert response.text == "answer to: echo x "  # cut client-side too


def test_server_error_then_success_is_retried(server):
    with _backend(server) as b:
        response = b.generate([_req("f", "flaky one")], PARAMS)[0]
    assert response.error is None and response.text.startswith("answer to: flaky one")
    assert server.calls["flaky one"] == 2


def test_rate_limit_is_retried(server):
    with _backend(server) as b:
        response = b.generate([_req("r", "ratelimited x")], PARAMS)[0]
    assert response.error is None and server.calls["ratelimited x"] == 2


def test_permanent_client_error_is_recorded_without_retry(server):
    with _backend(server) as b:
        responses = b.generate([_req("b", "bad request"), _req("ok", "echo fine")], PARAMS)
    assert responses[0].error == "HTTP 400: messages[0]: invalid content"
    assert responses[0].text == ""
    assert server.calls["bad request"] == 1
    assert responses[1].error is None


def test_persistent_server_error_gives_up_after_max_retries(server):
    with _backend(server, max_retries=2) as b:
        response = b.generate([_req("d", "down now")], PARAMS)[0]
    assert response.error == "HTTP 503: overloaded (gave up after 3 attempts)"
    assert server.calls["down now"] == 3


def test_timeout_is_retried_then_recorded(server):
    with _backend(server, timeout_s=0.2, max_retries=1) as b:
        t0 = time.perf_counter()
        response = b.generate([_req("t", "slow 1.0")], PARAMS)[0]
        elapsed = time.perf_counter() - t0
    assert response.error == "timeout after 0.2s (gave up after 2 attempts)"
    assert elapsed < 1.5  # two 0.2 s attempts, not two full 1 s answers
    assert server.calls["slow 1.0"] == 2


def test_connection_refused_is_an_error_not_a_crash():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    b = get_backend(
        "openai", model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.01
    )
    response = b.generate([_req("c", "echo")], PARAMS)[0]
    b.close()
    assert response.error.startswith("connection error: ConnectError")
    assert response.error.endswith("(gave up after 2 attempts)")


def test_missing_content_is_an_error(server):
    with _backend(server) as b:
        response = b.generate([_req("n", "nocontent x")], PARAMS)[0]
    assert response.error == "no content in completion (finish_reason=length)"


def test_images_travel_as_data_uris_with_the_right_mime(server, tmp_path):
    png, jpg, bmp = tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "c.bmp"
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    Image.fromarray(pixels).save(png)
    Image.fromarray(pixels).save(jpg)
    Image.fromarray(pixels).save(bmp)
    with _backend(server) as b:
        response = b.generate([_req("i", "image please", (png, jpg, bmp))], PARAMS)[0]
    sha = lambda data: hashlib.sha256(data).hexdigest()  # noqa: E731
    png_of_bmp = server.payloads[0]["messages"][0]["content"][2]["image_url"]["url"]
    bmp_bytes = base64.b64decode(png_of_bmp.split(",", 1)[1])
    assert np.array_equal(np.asarray(Image.open(__import__("io").BytesIO(bmp_bytes))), pixels)
    assert response.text == " ".join(
        [
            f"data:image/png;base64|{sha(png.read_bytes())}",
            f"data:image/jpeg;base64|{sha(jpg.read_bytes())}",
            f"data:image/png;base64|{sha(bmp_bytes)}",
        ]
    )


def test_unreadable_image_fails_only_that_request(server, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnope")
    with _backend(server) as b:
        responses = b.generate([_req("bad", "image x", (bad,)), _req("ok", "echo y")], PARAMS)
    assert responses[0].error.startswith(f"{bad}: cannot decode PNG image")
    assert responses[1].error is None
    assert len(server.payloads) == 1  # the bad request never left the machine


def test_concurrency_is_bounded_and_used(server):
    with _backend(server, concurrency=3) as b:
        t0 = time.perf_counter()
        responses = b.generate([_req(str(i), f"slow 0.2 #{i}") for i in range(9)], PARAMS)
        elapsed = time.perf_counter() - t0
    assert all(r.error is None for r in responses)
    assert server.max_in_flight == 3
    assert elapsed < 9 * 0.2  # really parallel: about 3 rounds of 0.2 s


def test_api_key_from_environment_and_option(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LINGSHU_API_KEY", "env-secret")
    with _backend(server) as b:
        b.generate([_req("a", "echo a")], PARAMS)
    with _backend(server, api_key="option-secret") as b:
        b.generate([_req("b", "echo b")], PARAMS)
        assert "option-secret" not in json.dumps(b.fingerprint())
        assert "option-secret" not in repr(b.config)
    assert server.headers[0]["Authorization"] == "Bearer env-secret"
    assert server.headers[1]["Authorization"] == "Bearer option-secret"


def test_max_completion_tokens_field_and_extra_body(server):
    with _backend(server, max_tokens_field="max_completion_tokens", extra_body={"top_k": 1}) as b:
        b.generate([_req("x", "echo x")], PARAMS)
        fp = b.fingerprint()
    assert (
        server.payloads[0]["max_completion_tokens"] == 16 and "max_tokens" not in server.payloads[0]
    )
    assert server.payloads[0]["top_k"] == 1
    assert fp == {
        "backend": "openai",
        "base_url": server.url,
        "model": "test-model",
        "extra_body": {"top_k": 1},
    }


def test_backoff_is_exponential_jittered_and_capped():
    b = OpenAIBackend(OpenAIConfig(model="m", backoff_s=1.0, backoff_max_s=4.0))
    try:
        for attempt, (lo, hi) in enumerate(
            [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.0, 4.0), (2.0, 4.0)]
        ):
            assert lo <= b._delay(attempt, None) <= hi
        assert b._delay(0, retry_after=100.0) == 4.0  # Retry-After honoured up to the cap
        assert 0.5 <= b._delay(0, retry_after=0.0) <= 1.0
    finally:
        b.close()
