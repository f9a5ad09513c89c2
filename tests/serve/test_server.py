"""The OpenAI-compatible server over real HTTP on loopback, with the tiny Qwen2.5-VL."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from serve_helpers import chat_body, data_uri, png_bytes, random_image

pytestmark = pytest.mark.slow

IMG_A = data_uri(png_bytes(random_image(11, 90, 70)))
IMG_B = data_uri(png_bytes(random_image(12, 60, 100)))


def post(server, body, headers=None, timeout=120):
    return httpx.post(
        f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=timeout
    )


def sse_events(response_text: str) -> list[str]:
    events = [e for e in response_text.split("\n\n") if e.strip()]
    assert all(e.startswith("data: ") for e in events), events
    return [e[len("data: ") :] for e in events]


def assert_openai_error(resp, status, code=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    for leak in ("Traceback", 'File "', "/tmp", "site-packages", "lingshu/"):
        assert leak not in body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# -- the happy paths --------------------------------------------------------------------


def test_health_models_and_root(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok", "auth_required": False}
    models = httpx.get(f"{server.url}/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["tiny"]
    assert httpx.get(f"{server.url}/v1/models/tiny").json()["id"] == "tiny"
    assert_openai_error(httpx.get(f"{server.url}/v1/models/gpt-4"), 404, "model_not_found")
    root = httpx.get(f"{server.url}/")
    assert root.status_code == 200 and "--ui" in root.json()["message"]


def test_completion_matches_the_engine_and_counts_usage(server):
    body = chat_body("What does the image show?", [IMG_A], max_tokens=10)
    resp = post(server, body)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["object"] == "chat.completion" and data["model"] == "tiny"
    assert data["id"].startswith("chatcmpl-")
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant"
    # Independent path: the same image decoded by PIL and sent through the engine directly.
    from lingshu.inference import GenerationParams

    expected = server.engine.generate(
        [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": random_image(11, 90, 70)},
                    {"type": "text", "text": "What does the image show?"},
                ],
            }
        ],
        GenerationParams.from_client(max_new_tokens=10),
    )
    assert choice["message"]["content"] == expected.text
    assert choice["finish_reason"] == ("length" if expected.finish_reason == "length" else "stop")
    assert data["usage"] == {
        "prompt_tokens": expected.prompt_tokens,
        "completion_tokens": expected.completion_tokens,
        "total_tokens": expected.prompt_tokens + expected.completion_tokens,
    }
    # The image is really part of the prompt. Qwen2.5-VL resizes 90x70 to multiples of 28:
    # 84x56 (round(90/28) = 3, round(70/28) = 2), i.e. 6x4 patches of 14 px, merged 2x2 into
    # 6 tokens, plus <|vision_start|> and <|vision_end|>: 8 more than the text alone.
    text_only = post(server, chat_body("What does the image show?", max_tokens=1)).json()
    assert data["usage"]["prompt_tokens"] - text_only["usage"]["prompt_tokens"] == 8


def test_stream_is_openai_sse_and_adds_up(server):
    body = chat_body("Describe the scan.", [IMG_B], max_tokens=12)
    plain = post(server, body).json()
    resp = post(server, dict(body, stream=True, stream_options={"include_usage": True}))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resp.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c["choices"][0]["delta"].get("content", "") for c in chunks[1:-2]]
    assert len(content) > 1  # streamed in pieces, not at the end
    assert "".join(content) == plain["choices"][0]["message"]["content"]
    finish = chunks[-2]
    assert (
        finish["choices"][0]["delta"] == {}
        and finish["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]
    )
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"] == plain["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_field(server):
    resp = post(server, chat_body("Hi", max_tokens=3, stream=True))
    chunks = [json.loads(e) for e in sse_events(resp.text)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_stop_and_max_completion_tokens(server):
    full = post(server, chat_body("Tell me about the lungs.", max_tokens=12)).json()["choices"][0][
        "message"
    ]["content"]
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut = post(server, chat_body("Tell me about the lungs.", max_tokens=12, stop=[stop])).json()
    assert cut["choices"][0]["message"]["content"] == full[: full.find(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"
    short = post(
        server, chat_body("Tell me about the lungs.", max_tokens=12, max_completion_tokens=3)
    ).json()
    assert (
        short["usage"]["completion_tokens"] == 3
        and short["choices"][0]["finish_reason"] == "length"
    )


def test_near_zero_temperature_is_greedy(server):
    greedy = post(server, chat_body("Any abnormality?", max_tokens=6, temperature=0)).json()
    tiny_t = post(server, chat_body("Any abnormality?", max_tokens=6, temperature=1e-30)).json()
    assert tiny_t["choices"][0]["message"] == greedy["choices"][0]["message"]


def test_seed_makes_sampling_reproducible(server):
    body = chat_body("Any abnormality?", max_tokens=8, temperature=1.0, top_p=0.9, seed=42)
    a, b = (post(server, body).json()["choices"][0]["message"]["content"] for _ in range(2))
    assert a == b


def test_multi_turn_and_system_messages(server):
    body = {
        "model": "tiny",
        "max_tokens": 6,
        "temperature": 0,
        "messages": [
            {"role": "developer", "content": "Answer briefly."},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": IMG_A},
                    {"type": "text", "text": "What is it?"},
                ],
            },
            {"role": "assistant", "content": "A chest X-ray."},
            {"role": "user", "content": "Any effusion?"},
        ],
        "user": "someone",
        "metadata": {"tolerated": True},  # unknown fields are tolerated
    }
    resp = post(server, body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["usage"]["prompt_tokens"] > 20


def test_concurrent_clients_get_their_own_answers(server):
    """8 clients at once, each answer equal to the same request sent alone."""
    bodies = [
        chat_body(
            f"Question {i}: what do you see?",
            [IMG_A if i % 2 else IMG_B] if i % 3 else [],
            max_tokens=6 + i,
        )
        for i in range(8)
    ]
    alone = [post(server, b).json()["choices"][0]["message"]["content"] for b in bodies]
    assert len(set(alone)) >= 6  # distinct answers, so a swap would be caught
    batches_before = len(server.engine.stats.batch_sizes)
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda b: post(server, b), bodies))
    assert [r.status_code for r in together] == [200] * 8
    assert [r.json()["choices"][0]["message"]["content"] for r in together] == alone
    assert max(server.engine.stats.batch_sizes[batches_before:]) > 1  # they were batched


def test_concurrent_streams_do_not_mix(server):
    bodies = [
        chat_body(f"Stream {i}", [IMG_A] if i % 2 else [], max_tokens=8, stream=True)
        for i in range(6)
    ]
    alone = [
        post(server, dict(b, stream=False)).json()["choices"][0]["message"]["content"]
        for b in bodies
    ]

    def streamed(b):
        chunks = [json.loads(e) for e in sse_events(post(server, b).text)[:-1]]
        return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(streamed, bodies)) == alone


def test_client_disconnect_mid_stream_frees_the_server(server):
    body = chat_body("A long answer please", max_tokens=3000, stream=True)
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=60) as resp:
        for line in resp.iter_lines():
            if '"content": "' in line and '"role"' not in line:
                break  # got one piece of content; hang up
    # The abandoned 3000-token generation is cancelled (it would take ~20 s on a CPU), so the
    # next request is answered promptly instead of waiting behind it.
    import time

    t0 = time.monotonic()
    after = post(server, chat_body("Still there?", max_tokens=2), timeout=60)
    assert after.status_code == 200
    assert time.monotonic() - t0 < 8


def test_client_disconnect_before_a_plain_answer_cancels_it(server, monkeypatch):
    """A non-streamed request whose client hangs up is cancelled: its row leaves the batch
    and the next client is served at once (it used to wait for all 1,500 tokens)."""
    import threading
    import time

    handles = []
    real_submit = server.engine.submit

    def tracking_submit(*args, **kwargs):
        handle = real_submit(*args, **kwargs)
        handles.append(handle)
        return handle

    monkeypatch.setattr(server.engine, "submit", tracking_submit)
    body = chat_body("A long answer please", max_tokens=1500)
    # A real HTTP client that gives up: httpx closes the connection on its read timeout.
    with pytest.raises(httpx.ReadTimeout):
        post(server, body, timeout=1.5)
    assert len(handles) == 1
    done = threading.Event()
    threading.Thread(target=lambda: (handles[0].result(timeout=60), done.set()), daemon=True).start()
    assert done.wait(20), "the abandoned request was not cancelled"
    result = handles[0].result()
    assert result.finish_reason == "cancelled" and result.completion_tokens < 1500
    t0 = time.monotonic()
    after = post(server, chat_body("Still there?", max_tokens=2), timeout=60)
    assert after.status_code == 200
    assert time.monotonic() - t0 < 8


# -- malformed requests: every class gets a 4xx in OpenAI's shape -----------------------


MALFORMED = [
    ("not json", '{"model": ', 400, "invalid_json"),
    ("not an object", "[1, 2]", 400, "invalid_json"),
    ("not utf-8", b"\xff\xfe{}", 400, "invalid_json"),
    ("missing messages", {"model": "tiny"}, 400, "invalid_value"),
    ("missing model", {"messages": [{"role": "user", "content": "hi"}]}, 400, "invalid_value"),
    ("empty messages", {"model": "tiny", "messages": []}, 400, "invalid_value"),
    ("messages not a list", {"model": "tiny", "messages": "hi"}, 400, "invalid_value"),
    (
        "bad role",
        {"model": "tiny", "messages": [{"role": "robot", "content": "hi"}]},
        400,
        "invalid_value",
    ),
    (
        "user without content",
        {"model": "tiny", "messages": [{"role": "user"}]},
        400,
        "invalid_value",
    ),
    (
        "content a number",
        {"model": "tiny", "messages": [{"role": "user", "content": 5}]},
        400,
        "invalid_value",
    ),
    (
        "unknown part type",
        {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
        400,
        "invalid_value",
    ),
    (
        "text part without text",
        {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
        400,
        "invalid_value",
    ),
    (
        "image part without url",
        {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        400,
        "invalid_value",
    ),
    ("max_tokens a string", chat_body("hi", max_tokens="16"), 400, "invalid_value"),
    ("max_tokens zero", chat_body("hi", max_tokens=0), 400, "invalid_value"),
    ("temperature too high", chat_body("hi", temperature=3), 400, "invalid_value"),
    ("top_p negative", chat_body("hi", top_p=-0.1), 400, "invalid_value"),
    ("stream a string", chat_body("hi", stream="yes"), 400, "invalid_value"),
    ("stop a number", chat_body("hi", stop=5), 400, "invalid_value"),
    ("too many stops", chat_body("hi", stop=["a", "b", "c", "d", "e"]), 400, "invalid_value"),
    ("n = 2", chat_body("hi", n=2), 400, "invalid_value"),
    ("presence penalty", chat_body("hi", presence_penalty=1.0), 400, "invalid_value"),
    ("logprobs", chat_body("hi", logprobs=True), 400, "invalid_value"),
    ("seed a float", chat_body("hi", seed=1.5), 400, "invalid_value"),
    ("seed beyond 64 bits", chat_body("hi", seed=2**70), 400, "invalid_value"),
    (
        "temperature NaN",
        '{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        400,
        "invalid_value",
    ),
    ("JSON nested too deeply", "[" * 200_000 + "]" * 200_000, 400, "invalid_json"),
    ("unknown model", dict(chat_body("hi"), model="gpt-4o"), 404, "model_not_found"),
    ("bad base64", chat_body("hi", ["data:image/png;base64,%%%%"]), 400, "invalid_base64"),
    (
        "undecodable image",
        chat_body("hi", [data_uri(b"this is not an image at all")]),
        400,
        "invalid_image",
    ),
    (
        "truncated image",
        chat_body("hi", [data_uri(png_bytes(random_image(1))[:200])]),
        400,
        "invalid_image",
    ),
    (
        "not an image mime",
        chat_body("hi", ["data:text/html;base64,PGgxPg=="]),
        400,
        "invalid_image",
    ),
    ("remote url", chat_body("hi", ["https://example.org/cxr.png"]), 400, "remote_images_disabled"),
    ("file url", chat_body("hi", ["file:///etc/passwd"]), 400, "invalid_image_url"),
    ("local path", chat_body("hi", ["/etc/passwd"]), 400, "invalid_image_url"),
    (
        "image in assistant turn",
        {
            "model": "tiny",
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "image_url", "image_url": {"url": IMG_A}}],
                },
                {"role": "user", "content": "hi"},
            ],
        },
        400,
        None,
    ),
    ("prompt beyond the context", chat_body("word " * 5000), 400, "invalid_prompt"),
    (
        "image aspect ratio over 200",  # Qwen2.5-VL's processor refuses these
        chat_body("hi", [data_uri(png_bytes(random_image(5, 5000, 20)))]),
        400,
        "invalid_prompt",
    ),
]


@pytest.mark.parametrize(
    ("what", "body", "status", "code"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_requests(server, what, body, status, code):
    if isinstance(body, dict):
        resp = post(server, body)
    else:
        content = body.encode() if isinstance(body, str) else body
        resp = httpx.post(
            f"{server.url}/v1/chat/completions",
            content=content,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    err = assert_openai_error(resp, status, code)
    if what.startswith(
        ("max_tokens", "temperature", "top_p", "stream", "seed", "stop", "missing", "bad role")
    ):
        assert err["param"], err  # names the offending field


def test_field_errors_name_the_field(server):
    err = assert_openai_error(post(server, chat_body("hi", max_tokens="16")), 400)
    assert err["param"] == "max_tokens" and "max_tokens" in err["message"]
    err = assert_openai_error(
        post(
            server,
            {
                "model": "tiny",
                "messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}],
            },
        ),
        400,
    )
    assert err["param"] == "messages[0].content[0].text"
    err = assert_openai_error(post(server, chat_body("hi", ["data:image/png;base64,%%%%"])), 400)
    assert err["param"] == "messages[0].content[0].image_url"


def test_wrong_content_type_route_and_method(server):
    resp = httpx.post(
        f"{server.url}/v1/chat/completions",
        content=json.dumps(chat_body("hi")),
        headers={"Content-Type": "text/plain"},
    )
    assert_openai_error(resp, 415, "unsupported_media_type")
    assert_openai_error(httpx.get(f"{server.url}/v1/nothing-here"), 404, "not_found")
    assert_openai_error(httpx.get(f"{server.url}/v1/chat/completions"), 405, "method_not_allowed")


def test_foreign_host_header_is_refused(server):
    resp = httpx.get(f"{server.url}/health", headers={"Host": "attacker.example:80"})
    assert_openai_error(resp, 400, "invalid_host")
    assert (
        httpx.get(f"{server.url}/health", headers={"Host": f"localhost:{server.port}"}).status_code
        == 200
    )


# -- limits and auth --------------------------------------------------------------------


def test_body_size_limit(make_server):
    small = make_server(max_body_bytes=4096)
    big = chat_body("hi", [IMG_A])
    assert len(json.dumps(big)) > 4096
    assert_openai_error(post(small, big), 413, "request_too_large")

    def chunked():  # no Content-Length: counted as it arrives
        payload = json.dumps(big).encode()
        for i in range(0, len(payload), 1000):
            yield payload[i : i + 1000]

    resp = httpx.post(
        f"{small.url}/v1/chat/completions",
        content=chunked(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert_openai_error(resp, 413, "request_too_large")
    assert post(small, chat_body("hi", max_tokens=2)).status_code == 200


def test_image_pixel_limit(make_server):
    from lingshu.serve.images import ImagePolicy

    strict = make_server(images=ImagePolicy(max_pixels=5000))
    err = assert_openai_error(post(strict, chat_body("hi", [IMG_A])), 413, "image_too_large")
    assert "90 x 70 = 6,300 pixels" in err["message"]
    assert err["param"] == "messages[0].content[0].image_url"


def test_too_many_images(make_server):
    few = make_server(max_images_per_request=2)
    assert_openai_error(post(few, chat_body("hi", [IMG_A, IMG_B, IMG_A])), 400, "too_many_images")


def test_api_key(make_server, monkeypatch):
    locked = make_server(api_key="s3cret-key")
    body = chat_body("hi", max_tokens=2)
    for headers in (
        None,
        {"Authorization": "Bearer wrong"},
        {"Authorization": "s3cret-key"},
        {"Authorization": "Basic s3cret-key"},
        {"Authorization": "Bearer s3cret-ke"},
    ):
        resp = post(locked, body, headers=headers)
        assert_openai_error(resp, 401, "invalid_api_key")
        assert resp.headers["www-authenticate"] == "Bearer"
    assert_openai_error(httpx.get(f"{locked.url}/v1/models"), 401, "invalid_api_key")
    ok = {"Authorization": "Bearer s3cret-key"}
    assert post(locked, body, headers=ok).status_code == 200
    assert httpx.get(f"{locked.url}/v1/models", headers=ok).status_code == 200
    assert httpx.get(f"{locked.url}/health").json()["auth_required"] is True  # public
    # An anonymous oversized upload is refused for the key, before its body is read.
    assert_openai_error(post(locked, chat_body("x" * 30_000_000)), 401, "invalid_api_key")


def test_remote_images_when_allowed(make_server):
    import http.server
    import threading

    from lingshu.serve.images import ImagePolicy

    png = png_bytes(random_image(11, 90, 70))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        remote = make_server(
            images=ImagePolicy(allow_remote=True, trusted_networks=("127.0.0.1/32",))
        )
        url = f"http://127.0.0.1:{httpd.server_address[1]}/cxr.png"
        via_url = post(remote, chat_body("What does the image show?", [url], max_tokens=10)).json()
        inline = post(remote, chat_body("What does the image show?", [IMG_A], max_tokens=10)).json()
        assert (
            via_url["choices"][0]["message"]["content"]
            == inline["choices"][0]["message"]["content"]
        )
        assert via_url["usage"] == inline["usage"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_queue_overflow_is_a_429_not_a_5xx(tiny_loaded, base_settings):
    from serve_helpers import start_server

    from lingshu.inference import Engine as GenerationEngine

    eng = GenerationEngine(tiny_loaded, max_batch_size=1, max_queue=1, batch_wait_s=0)
    live, stop = start_server(eng, base_settings)
    try:
        bodies = [chat_body(f"q{i}", max_tokens=40) for i in range(6)]
        with ThreadPoolExecutor(6) as pool:
            codes = [r.status_code for r in pool.map(lambda b: post(live, b), bodies)]
        assert set(codes) <= {200, 429} and 429 in codes and 200 in codes
    finally:
        stop()
        eng.close()


def test_openai_eval_backend_against_the_server(server, tmp_path):
    """The evaluation kit's ``openai`` backend talks to our server like to any endpoint."""
    from lingshu.inference import get_backend
    from lingshu.inference import GenerationParams, Request

    image = tmp_path / "cxr.png"
    random_image(11, 90, 70).save(image)
    backend = get_backend("openai", model="tiny", base_url=f"{server.url}/v1", max_retries=0)
    try:
        requests = [
            Request(
                "a",
                [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "image": str(image)},
                            {"type": "text", "text": "What does the image show?"},
                        ],
                    }
                ],
            ),
            Request(
                "b",
                [{"role": "user", "content": [{"type": "text", "text": "Is there a fracture?"}]}],
            ),
        ]
        responses = backend.generate(requests, GenerationParams(max_new_tokens=10, temperature=0.0))
    finally:
        backend.close()
    direct = [
        post(server, chat_body("What does the image show?", [IMG_A], max_tokens=10)).json(),
        post(server, chat_body("Is there a fracture?", max_tokens=10)).json(),
    ]
    for resp, d in zip(responses, direct):
        assert resp.error is None
        assert resp.text == d["choices"][0]["message"]["content"]
        assert resp.prompt_tokens == d["usage"]["prompt_tokens"]
        assert resp.completion_tokens == d["usage"]["completion_tokens"]


def test_server_binds_where_it_is_told(server):
    """Bound to 127.0.0.1, the server is unreachable on the machine's other addresses."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # UDP: picks the outgoing interface, sends nothing
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{address}:{server.port}/health", timeout=5)


def test_render_endpoint_for_the_page(make_server):
    import base64
    import io

    import numpy as np
    from PIL import Image

    ui = make_server(ui=True, api_key="k")
    auth = {"Authorization": "Bearer k"}
    url = f"{ui.url}/ui/render"
    ok = httpx.post(url, json={"image": IMG_B}, headers=auth).json()
    assert (ok["width"], ok["height"]) == (60, 100)
    png = base64.b64decode(ok["image"].split(",", 1)[1])
    shown = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert np.array_equal(shown, np.asarray(random_image(12, 60, 100)))
    assert_openai_error(httpx.post(url, json={"image": IMG_B}), 401, "invalid_api_key")
    assert_openai_error(httpx.post(url, json={}, headers=auth), 400, "invalid_value")
    assert_openai_error(httpx.post(url, json={"image": "file:///etc/passwd"}, headers=auth), 400,
                        "invalid_image_url")
    bad = data_uri(b"garbage bytes")
    assert_openai_error(httpx.post(url, json={"image": bad}, headers=auth), 400, "invalid_image")
    page = httpx.get(f"{ui.url}/")  # the page itself is public; it asks for the key
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_mutated_requests_never_get_a_5xx(make_server):
    """Random mutations of a valid request (wrong types, missing keys, odd values): every
    answer is a 200 or a 4xx in OpenAI's shape, never a 5xx."""
    import copy
    import random

    server = make_server(default_max_tokens=2)  # a deleted max_tokens stays quick

    rng = random.Random(1234)
    base = chat_body("What is shown?", [IMG_A], max_tokens=2, stop=["x"], seed=1,
                     stream_options={"include_usage": True})
    odd_values = [None, True, False, 0, -1, 1.5, 2**70, "", "x", "NaN", [], [1], {}, {"a": 1},
                  "data:image/png;base64,AAAA", "http://127.0.0.1:1/x.png", "\u0000", 1e308]

    def paths(obj, prefix=()):
        yield prefix
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from paths(v, (*prefix, k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from paths(v, (*prefix, i))

    all_paths = [p for p in paths(base) if p]
    statuses = []
    for _ in range(120):
        body = copy.deepcopy(base)
        path = rng.choice(all_paths)
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            value = rng.choice(odd_values)
            if path[-1] == "max_tokens" and value == 2**70:
                value = 3  # valid and huge is merely slow: capped to the context, 4000 tokens
            parent[path[-1]] = value
        resp = post(server, body, timeout=120)
        statuses.append(resp.status_code)
        assert resp.status_code < 500, (path, resp.text)
        if resp.status_code != 200:
            assert_openai_error(resp, resp.status_code)
    assert 200 in statuses and any(400 <= s < 500 for s in statuses)


def test_dicom_data_uri(server):
    """A CT slice sent as application/dicom is read by the model layer's DICOM reader."""
    from pydicom.data import get_testdata_file

    from lingshu.models.images import load_image
    from lingshu.inference import GenerationParams

    path = get_testdata_file("CT_small.dcm", download=False)
    uri = data_uri(open(path, "rb").read(), "application/dicom")
    resp = post(server, chat_body("Which organ is shown?", [uri], max_tokens=8))
    assert resp.status_code == 200, resp.text
    expected = server.engine.generate(
        [{"role": "user", "content": [{"type": "image", "image": load_image(path)},
                                      {"type": "text", "text": "Which organ is shown?"}]}],
        GenerationParams.from_client(max_new_tokens=8),
    )
    assert resp.json()["choices"][0]["message"]["content"] == expected.text
    assert resp.json()["usage"]["prompt_tokens"] == expected.prompt_tokens
