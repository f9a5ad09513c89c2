"""``cached_calls``: the one cache-then-ask loop of the evaluation runner, the judge and
curation's model calls (issue 18: three copies before)."""

from __future__ import annotations

import pytest

from lingshu.inference import GenerationParams, Request, Response, TextResponses, cached_calls

PARAMS = GenerationParams(max_new_tokens=4)


class Store:
    """A dict behind the ``ResponseStore`` protocol."""

    def __init__(self, data=None):
        self.data = dict(data or {})
        self.puts: list[list[str]] = []

    def get_many(self, keys):
        return {k: self.data[k] for k in keys if k in self.data}

    def put_many(self, items):
        items = list(items)
        self.puts.append([k for k, _ in items])
        self.data.update(items)


class Backend:
    """Answers ``"A:" + request id``; requests whose id starts with ``bad`` fail."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def generate(self, requests, params):
        assert params == PARAMS
        self.calls.append([r.id for r in requests])
        return [
            Response(error="boom") if r.id.startswith("bad") else Response(text="A:" + r.id)
            for r in requests
        ]


def _requests(ids):
    return [Request(id=i, messages=[]) for i in ids]


def test_hits_first_then_misses_in_chunks_and_only_successes_stored():
    store = Store({"k1": Response(text="cached")})
    backend = Backend()
    ids = ["r0", "r1", "bad2", "r3", "r4"]
    keys = ["k0", "k1", "k2", "k3", "k4"]
    batches = list(
        cached_calls(backend.generate, _requests(ids), keys, PARAMS, store=store, chunk_size=2)
    )
    assert [(b.cached, b.positions, b.asked) for b in batches] == [
        (True, [1], 0),
        (False, [0, 2], 2),
        (False, [3, 4], 2),
    ]
    assert backend.calls == [["r0", "bad2"], ["r3", "r4"]]
    assert store.puts == [["k0"], ["k3", "k4"]]  # the failure (k2) is retried next time
    assert [r.text for _, r in batches[1].groups] == ["A:r0", ""]
    assert batches[1].groups[1][1].error == "boom"


def test_once_per_key_asks_equal_keys_once_and_shares_the_answer():
    backend = Backend()
    batches = list(
        cached_calls(
            backend.generate, _requests(["a", "b", "c"]), ["k", "j", "k"], PARAMS,
            once_per_key=True,
        )  # fmt: skip
    )
    assert backend.calls == [["a", "b"]]
    assert [(g, r.text) for g, r in batches[0].groups] == [([0, 2], "A:a"), ([1], "A:b")]
    # Without it, every request is asked (the evaluation runner's behaviour).
    backend = Backend()
    list(cached_calls(backend.generate, _requests(["a", "b", "c"]), ["k", "j", "k"], PARAMS))
    assert backend.calls == [["a", "b", "c"]]


def test_nothing_is_asked_when_told_not_to_or_when_iteration_stops():
    backend = Backend()
    store = Store({"k0": Response(text="x")})
    got = list(
        cached_calls(backend.generate, _requests(["a", "b"]), ["k0", "k1"], PARAMS,
                     store=store, ask=False)
    )  # fmt: skip
    assert [b.positions for b in got] == [[0]] and backend.calls == []
    it = cached_calls(backend.generate, _requests(["a", "b"]), ["k0", "k1"], PARAMS, store=store)
    assert next(it).cached and backend.calls == []  # lazy: the hits cost no backend call


def test_a_backend_returning_the_wrong_count_is_a_bug():
    with pytest.raises(RuntimeError, match="backend dummy returned 0 responses for 1 requests"):
        list(cached_calls(lambda r, p: [], _requests(["a"]), ["k"], PARAMS, who="backend dummy"))


def test_text_responses_store_only_the_text():
    class Table:
        def __init__(self):
            self.rows = {"old": "seen"}

        def get_many(self, keys):
            return {k: self.rows[k] for k in keys if k in self.rows}

        def put_many(self, rows):
            self.rows.update(rows)

    table = Table()
    store = TextResponses(table)
    assert store.get_many(["old", "new"]) == {"old": Response(text="seen")}
    store.put_many([("new", Response(text="t", prompt_tokens=3))])
    assert table.rows["new"] == "t"
