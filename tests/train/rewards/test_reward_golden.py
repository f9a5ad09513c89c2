"""Every reward against hand-worked golden cases (golden/*.json), adversarial ones included.

The expected values in the JSON files were written from the rules in the rewards' docstrings
and the issue, not produced by running the code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lingshu.train.rewards import get_reward

GOLDEN = Path(__file__).parent / "golden"


def _load(name: str) -> list[dict]:
    cases = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    for case in cases:
        if "completion_parts" in case:  # long texts are stored as (piece, repeat) pairs
            case["completion"] = "".join(t * n for t, n in case.pop("completion_parts"))
    return cases


FORMAT = _load("format.json")
ACCURACY = _load("accuracy.json")


@pytest.mark.parametrize("case", FORMAT, ids=[c["id"] for c in FORMAT])
@pytest.mark.parametrize("reward", ["format_thinking", "format_no_thinking"])
def test_format_golden(case: dict, reward: str) -> None:
    assert get_reward(reward)([case["completion"]]) == [float(case[reward])]


@pytest.mark.parametrize("case", ACCURACY, ids=[c["id"] for c in ACCURACY])
def test_accuracy_golden(case: dict) -> None:
    got = get_reward("accuracy")(
        [case["completion"]],
        answer=[case["answer"]],
        question_type=[case["question_type"]],
        options=[case["options"]],
    )
    assert got == [float(case["accuracy"])]


def test_batched_call_matches_single_calls_and_conversational_completions() -> None:
    """TRL hands a whole batch, and for chat prompts each completion is a message list."""
    fn = get_reward("accuracy")
    cols = {k: [c[k] for c in ACCURACY] for k in ("answer", "question_type", "options")}
    as_text = fn([c["completion"] for c in ACCURACY], **cols, image=[None] * len(ACCURACY))
    as_chat = fn(
        [[{"role": "assistant", "content": c["completion"]}] for c in ACCURACY], **cols
    )
    assert as_text == as_chat == [float(c["accuracy"]) for c in ACCURACY]


def test_very_long_thinking_is_linear_time() -> None:
    text = "<think>" + "a < b and <thinking> " * 200_000 + "</think><answer>B</answer>"
    start = time.perf_counter()
    assert get_reward("format_thinking")([text]) == [1.0]
    assert time.perf_counter() - start < 2.0
