"""``GenerationParams``: the one decoding-settings type from the command line to the decoder
(issue 18). Its checks, its cache-key form and the client-side spelling the server and
``lingshu chat`` use."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from lingshu.inference import GenerationParams, SamplingParams


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.01}, "top_p"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"stop": "###"}, "stop"),  # one string is not a tuple of strings
        ({"stop": ["ok", 3]}, "stop"),
        ({"temprature": 0.5}, "temprature"),  # unknown keys are errors
    ],
)
def test_out_of_range_values_are_refused(bad, field):
    with pytest.raises(ValidationError) as e:
        GenerationParams(**bad)
    assert str(e.value.errors()[0]["loc"][0]) == field


def test_edges_are_accepted():
    p = GenerationParams(max_new_tokens=1, temperature=0.0, top_p=1.0, seed=2**63 - 1, stop=["a"])
    assert p.stop == ("a",) and p.seed == 2**63 - 1


def test_frozen_and_hashable():
    a, b = GenerationParams(stop=("x",)), GenerationParams(stop=["x"])
    assert a == b and hash(a) == hash(b)
    with pytest.raises(ValidationError):
        a.max_new_tokens = 3  # type: ignore[misc]


def test_cache_key_form_keeps_field_order_and_float_types():
    # The response-cache key hashes this JSON: order and 1.0-vs-1 matter.
    text = json.dumps(GenerationParams(temperature=1, top_p=0.5, stop=("\n",)).to_dict())
    assert text == (
        '{"max_new_tokens": 256, "temperature": 1.0, "top_p": 0.5, "seed": 0, "stop": ["\\n"]}'
    )


def test_from_client_reads_top_p_zero_as_greedy_and_no_seed_as_none():
    p = GenerationParams.from_client(max_new_tokens=5, temperature=0.8, top_p=0.0)
    assert (p.temperature, p.top_p, p.seed, p.greedy) == (0.0, 1.0, None, True)
    q = GenerationParams.from_client(max_new_tokens=5, temperature=0.8, top_p=0.9, seed=3)
    assert (q.temperature, q.top_p, q.seed, q.greedy) == (0.8, 0.9, 3, False)


def test_the_deprecated_engine_spelling_builds_the_one_type():
    p = SamplingParams(7, temperature=0.5, stop=("x",))
    assert type(p) is GenerationParams
    assert p == GenerationParams(max_new_tokens=7, temperature=0.5, seed=None, stop=("x",))


def test_temperatures_below_the_greedy_threshold_are_greedy():
    assert GenerationParams(temperature=1e-30).greedy
    assert GenerationParams(temperature=1e-30).batch_key(False) == ("greedy",)
    assert not GenerationParams(temperature=1e-5).greedy
