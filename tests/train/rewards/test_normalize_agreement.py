"""One answer normaliser for evaluation and the GRPO reward (issue 18): the reward's
``normalize_text`` is the evaluation kit's ``normalize_answer``, so both read "two" as "2".
The golden pairs (golden/normalize_agreement.json) are worked out by hand from the rules in
``lingshu/eval/scoring/normalize.py``; both sides must give the expected answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingshu.eval import normalize_answer
from lingshu.train.rewards import get_reward
from lingshu.train.rewards.normalize import normalize_text

CASES = json.loads((Path(__file__).parent / "golden" / "normalize_agreement.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"{c['a']}|{c['b']}" for c in CASES])
def test_eval_and_reward_normalisers_agree(case):
    assert (normalize_answer(case["a"]) == normalize_answer(case["b"])) is case["equal"]
    assert (normalize_text(case["a"]) == normalize_text(case["b"])) is case["equal"]


@pytest.mark.parametrize(
    ("said", "gold", "reward"),
    [("two", "2", 1.0), ("2", "two", 1.0), ("Two lesions.", "2 lesions", 1.0), ("three", "2", 0.0)],
)
def test_open_accuracy_reward_counts_number_words(said, gold, reward):
    accuracy = get_reward("accuracy")
    got = accuracy([f"<answer>{said}</answer>"], answer=[gold], question_type=["open"])
    assert got == [reward]
