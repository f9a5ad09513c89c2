"""Judge-cache keys change with every field that decides the judge's answer and with
nothing else; the table lives beside the response cache without touching it."""

from __future__ import annotations

import sqlite3

import pytest

from lingshu.eval.cache import ResponseCache
from lingshu.eval.judge.cache import JudgeCache, judge_cache_key
from lingshu.inference import Response

BASE = dict(model="gpt-4.1", base_url="https://api.openai.com/v1", prompt_version="judge-v1",
            max_tokens=256, question="Where?", gold="left lung", response="right lung")


@pytest.mark.parametrize(
    ("field", "value"),
    [("model", "gpt-4o"), ("base_url", "http://127.0.0.1:8000/v1"), ("prompt_version", "judge-v2"),
     ("max_tokens", 64), ("question", "Where is it?"), ("gold", "Left lung"), ("response", "left lung")],
)
def test_key_depends_on_each_field(field, value):
    assert judge_cache_key(**{**BASE, field: value}) != judge_cache_key(**BASE)


def test_key_is_stable_and_ignores_trailing_slash_of_the_endpoint():
    assert judge_cache_key(**BASE) == judge_cache_key(**dict(BASE))
    assert judge_cache_key(**{**BASE, "base_url": "https://api.openai.com/v1/"}) == judge_cache_key(**BASE)
    assert len(judge_cache_key(**BASE)) == 64  # sha256 hex


def test_round_trip_and_separate_table(tmp_path):
    path = tmp_path / "cache.sqlite"
    responses = ResponseCache(path)
    responses.put_many([("k", Response(text="model answer"))])
    cache = JudgeCache(path)
    assert cache.get_many(["a", "b"]) == {}
    cache.put_many([("a", "Verdict: correct"), ("b", "garbage")])
    cache.put_many([("a", "Verdict: incorrect")])  # replaced, not duplicated
    assert cache.get_many(["a", "b", "c", "a"]) == {"a": "Verdict: incorrect", "b": "garbage"}
    assert len(cache) == 2 and len(responses) == 1
    cache.close()
    responses.close()
    reopened = JudgeCache(path)
    assert reopened.get_many(["b"]) == {"b": "garbage"}
    reopened.close()
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"responses", "judgements"} <= tables


def test_many_keys_over_sqlite_variable_limit(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    cache.put_many((f"k{i}", f"v{i}") for i in range(1200))
    got = cache.get_many(f"k{i}" for i in range(0, 1300))
    assert len(got) == 1200 and got["k1199"] == "v1199"
    cache.close()
