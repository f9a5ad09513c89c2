"""Issue 22's fuzz pass over the server's request schema: whatever a client sends to
``POST /v1/chat/completions`` or ``/ui/render`` is answered with a 200 or a 4xx in OpenAI's
error shape (one line, no traceback), never a 5xx. The real app over the tiny model,
through FastAPI's TestClient; answers are capped at 4 tokens so each example is quick."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from serve_helpers import data_uri, png_bytes

pytestmark = pytest.mark.slow

FUZZ = {"deadline": None, "derandomize": True, "suppress_health_check": list(HealthCheck)}
BIG = "__BIG_INTEGER__"  # replaced by a 4,301-digit integer after json.dumps
PNG = data_uri(png_bytes(Image.new("RGB", (8, 8), (1, 2, 3))))

urls = st.sampled_from([
    PNG, "data:image/png;base64,@@@", "data:image/png;base64,", "data:text/plain;base64,aGk=",
    "file:///etc/passwd", "/etc/hostname", "http://127.0.0.1:9/x.png", "ftp://h/x", "data:",
]) | st.text(max_size=40)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.just(BIG)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
)
anything = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=30) | scalars}),
    st.fixed_dictionaries({"type": st.just("image_url"),
                           "image_url": st.fixed_dictionaries({"url": urls}) | urls | scalars}),
    st.dictionaries(st.sampled_from(["type", "text", "image_url", "x"]), anything, max_size=3),
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "developer", "assistant", "tool", "x"])},
        optional={"content": st.text(max_size=40) | st.lists(parts, max_size=3) | scalars},
    ) | anything,
    max_size=3,
)
requests = st.fixed_dictionaries(
    {"model": st.sampled_from(["tiny", "other"]) | scalars, "messages": messages | scalars},
    optional={
        name: values
        for name, values in {
            "temperature": st.floats(-1, 3) | scalars, "top_p": st.floats(-1, 2) | scalars,
            "max_tokens": st.integers(-2, 6) | scalars, "max_completion_tokens": scalars,
            "seed": st.integers(-(2**65), 2**65) | scalars, "stop": st.lists(st.text(max_size=5), max_size=6) | scalars,
            "stream": st.booleans() | scalars, "stream_options": anything, "n": st.integers(0, 3) | scalars,
            "logprobs": scalars, "presence_penalty": scalars, "user": anything,
        }.items()
    },
)


@pytest.fixture(scope="module")
def client(engine, base_settings):
    from fastapi.testclient import TestClient

    from lingshu.serve.app import create_app

    app = create_app(engine, replace(base_settings, ui=True, max_tokens_limit=4, default_max_tokens=2))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


def check(resp) -> None:
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        err = resp.json()["error"]
        assert isinstance(err["message"], str) and err["message"]
        assert "\n" not in err["message"] and "Traceback" not in err["message"]


def encode(body) -> bytes:
    return json.dumps(body).replace(f'"{BIG}"', "9" * 4301).encode()


@settings(max_examples=120, **FUZZ)
@given(body=requests | anything)
def test_any_chat_request_is_a_200_or_a_4xx(client, body):
    resp = client.post("/v1/chat/completions", content=encode(body),
                       headers={"Content-Type": "application/json"})
    check(resp)


@settings(max_examples=60, **FUZZ)
@given(raw=st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
def test_any_body_bytes_are_a_4xx(client, raw):
    check(client.post("/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"}))


@settings(max_examples=40, **FUZZ)
@given(body=st.fixed_dictionaries({"image": urls | scalars}) | anything)
def test_any_render_request_is_a_200_or_a_4xx(client, body):
    check(client.post("/ui/render", content=encode(body), headers={"Content-Type": "application/json"}))
