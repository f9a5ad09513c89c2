"""Golden judge answers: each one either yields the verdict written beside it by hand, or a
judge error naming why; garbage never becomes a verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingshu.eval.judge.parse import parse_judgement

GOLDEN = json.loads((Path(__file__).parent / "parse_golden.json").read_text(encoding="utf-8"))


def test_golden_set_is_large_and_mixed():
    assert len(GOLDEN) >= 30
    verdicts = [c["verdict"] for c in GOLDEN]
    assert verdicts.count(True) >= 10 and verdicts.count(False) >= 10 and verdicts.count(None) >= 10


@pytest.mark.parametrize("case", GOLDEN, ids=[repr(c["answer"])[:50] for c in GOLDEN])
def test_golden(case):
    got = parse_judgement(case["answer"])
    assert got.verdict is case["verdict"]
    if case["verdict"] is None:
        assert got.error is not None and case["error_contains"] in got.error
        assert got.rationale is None and got.form is None
    else:
        assert got.error is None
        assert got.form == case["form"]
        if "rationale" in case:
            assert got.rationale == case["rationale"]


def test_error_quotes_the_answer_shortened():
    text = "blah " * 100
    err = parse_judgement(text).error
    assert err.startswith("unparseable judge answer (no verdict in any accepted form): 'blah blah")
    assert len(err) < 260 and err.endswith("...'")


def test_none_is_an_empty_answer():
    assert parse_judgement(None).error == "empty judge answer"


def test_prompt_format_answers_round_trip():
    """The two answers our prompt asks for parse to their verdicts."""
    from lingshu.eval.judge.prompt import get_judge_prompt

    text = get_judge_prompt().template
    assert '"Verdict: correct"' in text and '"Verdict: incorrect"' in text
    assert parse_judgement("Verdict: correct\nSame organ.").verdict is True
    assert parse_judgement("Verdict: incorrect\nOther organ.").verdict is False
