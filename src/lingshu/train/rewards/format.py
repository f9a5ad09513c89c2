"""Strict format rewards: 1.0 when the whole completion has the required shape, else 0.0.

Lingshu's stage 4 and Med-R1 both use a rule-based format reward (BRIEF §2); the exact
shape is in ``parsing``. The thinking variant matches Med-R1's thinking prompt, the
no-thinking variant its "No-Thinking" prompt (``lingshu.train.grpo.prompts``).
"""

from __future__ import annotations

from typing import Any

from lingshu.train.rewards.base import completion_text, register_reward
from lingshu.train.rewards.parsing import is_strict_answer_only, is_strict_thinking


@register_reward("format_thinking")
def format_thinking(completions: list[Any], **_: Any) -> list[float]:
    """1 if the completion is exactly one <think>..</think> then one <answer>..</answer>, else 0.

    >>> format_thinking(["<think>Round, dense.</think>\\n<answer>B</answer>", "<answer>B</answer>"])
    [1.0, 0.0]
    """
    return [1.0 if is_strict_thinking(completion_text(c)) else 0.0 for c in completions]


@register_reward("format_no_thinking")
def format_no_thinking(completions: list[Any], **_: Any) -> list[float]:
    """1 if the completion is exactly one <answer>..</answer> and nothing else, else 0.

    >>> format_no_thinking(["  <answer>B</answer>\\n", "B"])
    [1.0, 0.0]
    """
    return [1.0 if is_strict_answer_only(completion_text(c)) else 0.0 for c in completions]
