"""Golden cases for each strict rule of issue 21, from real SLAKE / VQA-RAD golds and MMLU-style
options, with controls that must stay invalid or wrong (tests/golden/strict_rules.jsonl).

Each line names its rule and the expected ``(extracted, invalid, correct)``, worked out by
hand from the rule's definition (docs/profiles.md, Scoring).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lingshu.eval.prompts import get_profile

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "strict_rules.jsonl"
CASES = [json.loads(x) for x in GOLDEN.read_text(encoding="utf-8").splitlines() if x]
STRICT = get_profile("strict")


def test_every_rule_has_credit_and_controls():
    by_rule = Counter(c["rule"] for c in CASES)
    assert set(by_rule) == {
        "revision", "double-negation", "one-word", "normality", "mcq-text-letter",
        "closed-sentence", "zh-family", "zh-negation", "zh-closed",
    }  # fmt: skip
    for rule in by_rule:
        outcomes = {
            "correct" if c["strict"]["correct"] else "invalid" if c["strict"]["invalid"] else "wrong"
            for c in CASES
            if c["rule"] == rule
        }
        assert "correct" in outcomes and len(outcomes) >= 2, rule


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['rule']}" for c in CASES])
def test_rule_case(case, agreement_module):
    v = STRICT.score(agreement_module.case_sample(case), case["response"])
    want = case["strict"]
    assert (v.extracted, v.invalid, v.correct) == (
        want["extracted"],
        want["invalid"],
        want["correct"],
    ), case["note"]
