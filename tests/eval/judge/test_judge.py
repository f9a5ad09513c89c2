"""The Judge over real HTTP (a stub endpoint) and with a scripted backend: verdicts, cache,
retries, failures, garbage, and giving up on a dead endpoint."""

from __future__ import annotations

import pytest

from lingshu.inference import Backend
from lingshu.eval.judge import Judge, JudgeCache, JudgeConfig, JudgeItem
from lingshu.eval.judge.judge import EMPTY_ANSWER_RATIONALE, JUDGE_KEY_ENV
from lingshu.inference import Response

FAST = dict(backoff_s=0.01, backoff_max_s=0.02, timeout_s=5.0)


def cfg(url, **kw):
    return JudgeConfig(**{"model": "stub-judge", "base_url": url, **FAST, **kw})


ITEMS = [
    JudgeItem("Which organ?", "Liver", "liver"),
    JudgeItem("Which side?", "Left", "right"),
    JudgeItem("What modality?", "MRI", "I will ramble about it"),
]


def test_verdicts_over_http_then_from_cache(stub_judge, tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    judge = Judge(cfg(stub_judge.url), cache=cache)
    first = judge.judge_many(ITEMS)
    assert [r.verdict for r in first] == [True, False, None]
    assert first[0].rationale == "Same answer." and first[0].raw.startswith("Verdict: correct")
    assert first[2].error.startswith("unparseable judge answer") and first[2].raw is not None
    assert not any(r.cached for r in first)
    assert stub_judge.n_requests == 3 and judge.n_requests == 3
    assert all(p["model"] == "stub-judge" and p["temperature"] == 0.0 and p["max_tokens"] == 256
               and len(p["messages"]) == 1 for p in stub_judge.payloads)
    prompts = sorted(p["messages"][0]["content"] for p in stub_judge.payloads)
    assert prompts[0].startswith("Standard answer: Left\nUser's answer: right\nQuestion: Which side?\n\n")
    judge.close()

    again = Judge(cfg(stub_judge.url), cache=cache)
    second = again.judge_many(ITEMS)
    assert stub_judge.n_requests == 3 and again.n_requests == 0 and again.n_cache_hits == 3
    assert [(r.verdict, r.error, r.raw) for r in second] == [(r.verdict, r.error, r.raw) for r in first]
    assert all(r.cached for r in second)
    again.close()
    cache.close()


def test_changed_prompt_inputs_miss_the_cache(stub_judge, tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    Judge(cfg(stub_judge.url), cache=cache).judge_many(ITEMS[:1])
    Judge(cfg(stub_judge.url, max_tokens=32), cache=cache).judge_many(ITEMS[:1])
    Judge(cfg(stub_judge.url, model="other"), cache=cache).judge_many(ITEMS[:1])
    Judge(cfg(stub_judge.url), cache=cache).judge_many([JudgeItem("Which organ?", "Liver", "Liver")])
    assert stub_judge.n_requests == 4


def test_server_errors_are_retried_within_bounds(stub_judge):
    stub_judge.fail_next = 2
    judge = Judge(cfg(stub_judge.url, max_retries=2, concurrency=1))
    assert judge.judge_many(ITEMS[:1])[0].verdict is True
    assert stub_judge.n_requests == 3  # two 500s, then the answer

    stub_judge.fail_next = 10
    res = Judge(cfg(stub_judge.url, max_retries=1, concurrency=1)).judge_many(ITEMS[:1])[0]
    assert res.verdict is None and res.raw is None and not res.cached
    assert res.error.startswith("judge request failed: HTTP 500") and "gave up after 2 attempts" in res.error


def test_failed_requests_are_not_cached_and_retried_later(stub_judge, tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    stub_judge.down = True
    first = Judge(cfg(stub_judge.url, max_retries=0), cache=cache).judge_many(ITEMS[:2])
    assert all(r.verdict is None and r.raw is None for r in first) and len(cache) == 0
    stub_judge.down = False
    second = Judge(cfg(stub_judge.url, max_retries=0), cache=cache).judge_many(ITEMS[:2])
    assert [r.verdict for r in second] == [True, False] and len(cache) == 2


def test_connection_refused_is_a_judge_error():
    res = Judge(cfg("http://127.0.0.1:9/v1", max_retries=1)).judge_many(ITEMS[:1])[0]
    assert res.verdict is None and res.error.startswith("judge request failed: connection error")


def test_api_key_from_config_then_environment(stub_judge, monkeypatch):
    monkeypatch.setenv(JUDGE_KEY_ENV, "from-env")
    Judge(cfg(stub_judge.url, api_key="from-option")).judge_many(ITEMS[:1])
    Judge(cfg(stub_judge.url)).judge_many(ITEMS[1:2])
    assert stub_judge.auth == ["Bearer from-option", "Bearer from-env"]


class Scripted(Backend):
    """Answers each request with ``answer(prompt text)``; fails when it returns None."""

    name = "scripted"

    def __init__(self, answer):
        self.answer = answer
        self.requests = []

    def fingerprint(self):
        return {"name": "scripted"}

    def generate(self, requests, params):
        self.requests.extend(requests)
        out = []
        for r in requests:
            text = self.answer(r.messages[0]["content"])
            out.append(Response(error="connection error: refused") if text is None else Response(text=text))
        return out


def test_empty_answers_are_not_sent():
    backend = Scripted(lambda _: "Verdict: correct")
    res = Judge(cfg("http://x"), backend=backend).judge_many([JudgeItem("q", "g", "  \n"), ITEMS[0]])
    assert res[0] == type(res[0])(verdict=False, rationale=EMPTY_ANSWER_RATIONALE)
    assert res[1].verdict is True and len(backend.requests) == 1


def test_identical_items_are_asked_once():
    backend = Scripted(lambda _: "Verdict: incorrect")
    res = Judge(cfg("http://x"), backend=backend).judge_many([ITEMS[1], ITEMS[0], ITEMS[1]])
    assert [r.verdict for r in res] == [False, False, False] and len(backend.requests) == 2


def test_gives_up_after_failures_in_a_row_but_still_reads_the_cache(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    ok = Judge(cfg("http://x"), cache=cache, backend=Scripted(lambda _: "Verdict: correct"))
    ok.judge_many(ITEMS[:1])  # cached now
    dead = Scripted(lambda _: None)
    judge = Judge(cfg("http://x", give_up_after=2), cache=cache, backend=dead)
    first = judge.judge_many(ITEMS[1:])
    assert len(dead.requests) == 2 and all(r.error.startswith("judge request failed") for r in first)
    later = judge.judge_many([*ITEMS[1:], ITEMS[0]])
    assert len(dead.requests) == 2  # not asked again
    assert all(r.error.startswith("judge not asked: its last 2 requests failed") for r in later[:2])
    assert "connection error: refused" in later[0].error and "rerun" in later[0].error
    assert later[2].verdict is True and later[2].cached  # the cache still answers


def test_a_success_resets_the_failure_count():
    answers = iter([None, "Verdict: correct", None, None])
    backend = Scripted(lambda _: next(answers))
    judge = Judge(cfg("http://x", give_up_after=2, concurrency=1), backend=backend)
    for item in (JudgeItem("a", "b", "c"), JudgeItem("a", "b", "d"), JudgeItem("a", "b", "e")):
        judge.judge_many([item])
    assert len(backend.requests) == 3  # fail, success, fail: never two failures in a row before the 3rd
    judge.judge_many([JudgeItem("a", "b", "f")])
    assert len(backend.requests) == 4
    assert judge.judge_many([JudgeItem("a", "b", "g")])[0].error.startswith("judge not asked")


def test_unknown_prompt_version_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown judge prompt version 'judge-v9'; known: judge-v1"):
        JudgeConfig(model="m", prompt_version="judge-v9")
