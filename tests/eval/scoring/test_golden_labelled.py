"""Responses labelled by a careful grader (issue 21): every case pinned, agreement counted.

``tests/golden/strict_labelled.jsonl`` (112 responses, written before the issue-21 rules)
and ``strict_heldout.jsonl`` (48, written after them and never used to change them) hold,
per response, the grader's ``label`` (correct / wrong / invalid) and the verdict class each
profile gives (``strict``, ``medevalkit``). Every case is asserted, so a rule change shows
up case by case; the agreement with the grader is asserted as a floor, so a change may
only raise it (update the pinned classes and ``docs/profiles.md`` when it does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
FILES = ("strict_labelled.jsonl", "strict_heldout.jsonl")
CASES = [
    json.loads(line)
    for name in FILES
    for line in (GOLDEN / name).read_text(encoding="utf-8").splitlines()
    if line
]
# (file, profile) -> label agreement with the grader (docs/profiles.md, "Agreement").
AGREEMENT = {
    ("strict_labelled.jsonl", "strict"): 100,
    ("strict_labelled.jsonl", "medevalkit"): 37,
    ("strict_heldout.jsonl", "strict"): 34,
    ("strict_heldout.jsonl", "medevalkit"): 16,
}


def test_sets_are_large_bilingual_and_labelled():
    labelled = [c for c in CASES if c["id"].startswith("lab-")]
    assert len(labelled) >= 90 and len(CASES) == len({c["id"] for c in CASES})
    assert {c["lang"] for c in labelled} == {"en", "zh"}
    assert {c["label"] for c in CASES} == {"correct", "wrong", "invalid"}
    assert {c["benchmark"] for c in labelled} == {"slake", "vqa-rad", "mmlu-med"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize("profile", ["strict", "medevalkit"])
def test_every_case(case, profile, agreement_module):
    got = agreement_module.verdict_label(profile, case)
    assert got == case[profile], (case["response"], case["label"], case["note"])


@pytest.mark.parametrize(("name", "profile"), list(AGREEMENT))
def test_agreement_with_the_grader(name, profile):
    cases = [json.loads(x) for x in (GOLDEN / name).read_text(encoding="utf-8").splitlines() if x]
    agree = sum(c[profile] == c["label"] for c in cases)
    assert agree == AGREEMENT[(name, profile)]
