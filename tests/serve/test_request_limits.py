"""Issue 9 server points: lone surrogates are a 400 (not a 500); max_tokens has a
server-side cap, configurable, defaulting to what the model's context allows."""

from __future__ import annotations

import httpx
import pytest
from serve_helpers import chat_body

pytestmark = pytest.mark.slow


def raw_post(server, text: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        content=text.encode("utf-8"),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


@pytest.mark.parametrize(
    "body",
    [
        '{"model": "tiny", "messages": [{"role": "user", "content": "hi \\ud800 there"}], "max_tokens": 4}',
        '{"model": "tiny", "messages": [{"role": "user", "content": [{"type": "text", "text": "\\udfff"}]}], "max_tokens": 4}',
        '{"model": "tiny", "messages": [{"role": "system", "content": "\\ud83d"}, {"role": "user", "content": "hi"}], "max_tokens": 4}',
        '{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": ["\\ud800"], "max_tokens": 4}',
    ],
)
def test_lone_surrogates_are_a_400_naming_the_message(server, body):
    resp = raw_post(server, body)
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert "surrogate" in err["message"] and err["code"] == "invalid_value"


def test_a_valid_surrogate_pair_is_fine(server):
    body = '{"model": "tiny", "messages": [{"role": "user", "content": "x-ray \\ud83e\\ude7b"}], "max_tokens": 2, "temperature": 0}'
    assert raw_post(server, body).status_code == 200


def test_default_cap_follows_the_context_length():
    from lingshu.serve.settings import MAX_TOKENS_CEILING, ServerSettings

    settings = ServerSettings(served_model_name="m")
    assert settings.max_tokens_cap(2048) == 2048
    assert settings.max_tokens_cap(131072) == MAX_TOKENS_CEILING
    assert ServerSettings(served_model_name="m", max_tokens_limit=64).max_tokens_cap(2048) == 64


def test_max_tokens_above_the_cap_is_refused(make_server, engine):
    from lingshu.serve.settings import MAX_TOKENS_CEILING

    capped = make_server(max_tokens_limit=20)
    resp = httpx.post(f"{capped.url}/v1/chat/completions", json=chat_body("hi", max_tokens=21), timeout=60)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["param"] == "max_tokens" and "at most 20" in err["message"]
    resp = httpx.post(f"{capped.url}/v1/chat/completions", json=chat_body("hi", max_completion_tokens=500), timeout=60)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "max_completion_tokens"
    ok = httpx.post(f"{capped.url}/v1/chat/completions", json=chat_body("hi", max_tokens=20), timeout=120)
    assert ok.status_code == 200
    # without a limit set, the default is derived from the engine's context
    default = make_server()
    too_many = engine.context_length + 1
    resp = httpx.post(f"{default.url}/v1/chat/completions", json=chat_body("hi", max_tokens=too_many), timeout=60)
    assert resp.status_code == 400 and str(min(engine.context_length, MAX_TOKENS_CEILING)) in resp.json()["error"]["message"]


def test_serve_command_offers_the_limit():
    from typer.testing import CliRunner

    from lingshu.cli.main import app

    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "--max-tokens-limit" in out
