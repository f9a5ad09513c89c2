from __future__ import annotations

import pytest

from lingshu.core.errors import UserError
from lingshu.train.rewards import (
    REWARD_PRESETS,
    get_reward,
    list_rewards,
    register_reward,
    reward_preset,
)
from lingshu.train.rewards.base import REWARDS


def test_list_rewards_names_and_one_line_docs() -> None:
    listed = {r.name: r.doc for r in list_rewards()}
    assert {"accuracy", "format_thinking", "format_no_thinking"} <= set(listed)
    assert all(doc and "\n" not in doc for doc in listed.values())


def test_unknown_reward_is_a_user_error_listing_known_names() -> None:
    with pytest.raises(UserError, match="format_thinking"):
        get_reward("formatt")


def test_duplicate_name_raises_and_name_becomes_function_name() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        register_reward("accuracy")(lambda completions, **_: [0.0] * len(completions))
    assert get_reward("format_no_thinking").__name__ == "format_no_thinking"
    assert "accuracy" in REWARDS


def test_presets_are_the_papers_weights() -> None:
    # Lingshu stage 4: format 0.5 + accuracy 1.0; Med-R1: 1 + 1 (BRIEF §2).
    assert reward_preset("lingshu") == {"format_no_thinking": 0.5, "accuracy": 1.0}
    assert reward_preset("med-r1-thinking") == {"format_thinking": 1.0, "accuracy": 1.0}
    assert reward_preset("med-r1-no-thinking") == {"format_no_thinking": 1.0, "accuracy": 1.0}
    for weights in REWARD_PRESETS.values():
        for name in weights:
            get_reward(name)
    with pytest.raises(UserError, match="lingshu"):
        reward_preset("nope")


def test_rewards_table_lists_every_reward_on_one_line() -> None:
    from lingshu.train.rewards import rewards_table

    lines = rewards_table().splitlines()
    assert len(lines) == len(list_rewards())
    assert any(line.startswith("format_thinking ") for line in lines)


def test_numeric_accuracy_works_outside_the_main_thread() -> None:
    """math-verify's timeout uses SIGALRM (main thread only); rewards may run in a worker."""
    from concurrent.futures import ThreadPoolExecutor

    fn = get_reward("accuracy")
    with ThreadPoolExecutor(1) as pool:
        got = pool.submit(fn, ["<answer>1/2</answer>", "<answer>3</answer>"],
                          answer=["0.5", "4"], question_type=["numeric", "numeric"]).result()
    assert got == [1.0, 0.0]
    long_answer = "<answer>" + "1" * 200 + "</answer>"
    assert fn([long_answer], answer=["1" * 200], question_type=["numeric"]) == [0.0]
