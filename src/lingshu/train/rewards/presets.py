"""Named reward weightings, so a recipe can say ``rewards: lingshu`` instead of a table.

- ``lingshu``: strict format 0.5 + accuracy 1.0 (Lingshu stage 4, paper §3 / BRIEF §2).
  The paper's model answers without a thinking block, so the format is the answer-only one.
- ``lingshu-thinking``: the same weights with the thinking format.
- ``med-r1-thinking`` / ``med-r1-no-thinking``: format 1 + accuracy 1 (Med-R1, BRIEF §2),
  for its two prompt variants.
"""

from __future__ import annotations

from lingshu.core.errors import UserError

REWARD_PRESETS: dict[str, dict[str, float]] = {
    "lingshu": {"format_no_thinking": 0.5, "accuracy": 1.0},
    "lingshu-thinking": {"format_thinking": 0.5, "accuracy": 1.0},
    "med-r1-thinking": {"format_thinking": 1.0, "accuracy": 1.0},
    "med-r1-no-thinking": {"format_no_thinking": 1.0, "accuracy": 1.0},
}


def reward_preset(name: str) -> dict[str, float]:
    """A copy of the preset's ``{reward name: weight}``; ``UserError`` for an unknown name."""
    try:
        return dict(REWARD_PRESETS[name])
    except KeyError:
        known = ", ".join(sorted(REWARD_PRESETS))
        raise UserError(f"unknown reward preset {name!r}; expected one of: {known}") from None
