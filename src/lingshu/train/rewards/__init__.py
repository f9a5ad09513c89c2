"""Rewards for GRPO: registered, pure, batched ``fn(completions, **columns) -> list[float]``.

Add one by decorating a function in a module imported below::

    @register_reward("my_reward")
    def my_reward(completions, answer, **_):
        \"\"\"One line the CLI lists.\"\"\"
        return [...]

and name it with a weight in a recipe's ``rewards`` table (see docs/training-grpo.md).
"""

from lingshu.train.rewards import accuracy as _accuracy  # noqa: F401  (importing registers)
from lingshu.train.rewards import format as _format  # noqa: F401
from lingshu.train.rewards.accuracy import QUESTION_TYPES, infer_question_type, score_answer
from lingshu.train.rewards.base import (
    REWARDS,
    RewardFn,
    RewardInfo,
    completion_text,
    get_reward,
    list_rewards,
    register_reward,
    rewards_table,
)
from lingshu.train.rewards.parsing import extract_answer, is_strict_answer_only, is_strict_thinking
from lingshu.train.rewards.presets import REWARD_PRESETS, reward_preset

__all__ = [
    "QUESTION_TYPES",
    "REWARDS",
    "REWARD_PRESETS",
    "RewardFn",
    "RewardInfo",
    "completion_text",
    "extract_answer",
    "get_reward",
    "infer_question_type",
    "is_strict_answer_only",
    "is_strict_thinking",
    "list_rewards",
    "register_reward",
    "reward_preset",
    "rewards_table",
    "score_answer",
]
