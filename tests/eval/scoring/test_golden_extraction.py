"""Golden cases: the same responses scored by ``strict`` and by ``medevalkit``.

Each line of tests/golden/extraction.jsonl holds a response, the question, its options or
gold answer, and the expected result under both profiles, worked out by hand (MedEvalKit's
expectations by reading its code: its similarity guesses, its substring yes/no, its exact
string match, its mislabelled precision / recall / F1). The file therefore shows, case by
case, where the two profiles differ.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lingshu.eval.prompts import get_profile
from lingshu.eval.types import Sample

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "extraction.jsonl"
CASES = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines() if line]
STRICT = get_profile("strict")
MEDEVALKIT = get_profile("medevalkit")


def _sample(case: dict) -> Sample:
    return Sample(
        id=case["id"],
        benchmark=case["benchmark"],
        task="mcq" if case["kind"] == "mcq" else "vqa",
        question=case["question"],
        answer=case["gold"],
        options=case["options"],
        answer_type=case["answer_type"],
    )


def test_golden_file_is_large_and_covers_every_kind():
    kinds = Counter(c["kind"] for c in CASES)
    assert len(CASES) >= 150
    assert {"mcq", "yesno", "closed", "open"} <= set(kinds)
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_strict(case):
    v = STRICT.score(_sample(case), case["response"])
    want = case["strict"]
    assert (v.extracted, v.invalid, v.correct) == (
        want["extracted"],
        want["invalid"],
        want["correct"],
    ), case.get("note")
    for key, value in want.get("scores", {}).items():
        assert v.scores[key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_medevalkit(case):
    v = MEDEVALKIT.score(_sample(case), case["response"])
    want = case["medevalkit"]
    assert (v.extracted, v.correct, v.method) == (
        want["extracted"],
        want["correct"],
        want["method"],
    ), case.get("note")
    assert v.invalid is False  # MedEvalKit has no invalid answers
    for key, value in want.get("scores", {}).items():
        assert v.scores[key] == pytest.approx(value, abs=1e-9), key


def test_profiles_disagree_where_medevalkit_is_broken():
    """The documented defects show up as disagreements in the golden set."""
    guesses = [c for c in CASES if c["medevalkit"]["method"].endswith("guess")]
    assert sum(c["strict"]["invalid"] for c in guesses) >= 20
    lucky = [c for c in guesses if c["strict"]["invalid"] and c["medevalkit"]["correct"]]
    assert lucky, "some unparseable answers are counted right by MedEvalKit's guessing"
    normal = [c for c in CASES if c["response"] == "Normal" and c["gold"] == "no"]
    assert normal and all(c["medevalkit"]["correct"] and c["strict"]["invalid"] for c in normal)
