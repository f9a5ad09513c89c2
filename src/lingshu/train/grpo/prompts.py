"""Med-R1's two GRPO prompt variants as versioned templates (BRIEF §2).

The question (with its options, when it has any) comes first, then one instruction: the
thinking variant asks for reasoning inside ``<think>...</think>`` and the answer inside
``<answer>...</answer>``; the no-thinking variant asks for the ``<answer>`` block only
(Med-R1: trains faster and generalises better across modalities). The wording is ours, in
the spirit of Med-R1's; the format rewards (``lingshu.train.rewards.format``) check exactly
the shape each instruction asks for. Changing a wording means a new version: the version
is saved with every run, so two runs with the same version saw the same prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lingshu.core.registry import Registry

PromptVariant = Literal["thinking", "no_thinking"]


@dataclass(frozen=True)
class GRPOPrompt:
    variant: PromptVariant
    version: int
    template: str  # str.format over {question}
    format_reward: str  # the strict format reward that checks what the template asks for

    @property
    def key(self) -> str:
        return f"{self.variant}/v{self.version}"

    def render(self, question: str) -> str:
        return self.template.format(question=question.strip())


GRPO_PROMPTS: Registry[GRPOPrompt] = Registry("GRPO prompt")

for _p in (
    GRPOPrompt(
        variant="thinking",
        version=1,
        template=(
            "{question}\n"
            "First think about the question step by step inside <think> </think> tags, then give "
            "only the final answer (for a multiple-choice question, the option's letter) inside "
            "<answer> </answer> tags."
        ),
        format_reward="format_thinking",
    ),
    GRPOPrompt(
        variant="no_thinking",
        version=1,
        template=(
            "{question}\n"
            "Give only the final answer (for a multiple-choice question, the option's letter) "
            "inside <answer> </answer> tags, with nothing before or after them."
        ),
        format_reward="format_no_thinking",
    ),
):
    GRPO_PROMPTS.add(_p.key, _p)

LATEST_VERSION = 1


def get_prompt(variant: str, version: int = LATEST_VERSION) -> GRPOPrompt:
    return GRPO_PROMPTS.get(f"{variant}/v{version}")
