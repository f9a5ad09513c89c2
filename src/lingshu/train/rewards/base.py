"""The reward registry and the calling convention every reward follows.

A reward is a pure, batched function ``fn(completions, **columns) -> list[float]``, the
shape TRL's ``GRPOTrainer`` calls: ``completions`` holds one entry per generated
completion (a plain string, or for conversational prompts a list of messages whose last
one is the assistant's), and every extra dataset column (``answer``, ``question_type``,
``options``, ``image`` ...) arrives as a keyword argument holding one value per
completion. Rewards must ignore columns they do not use (``**_``), never touch a model
and never keep state, so that golden tests pin them down completely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lingshu.core.registry import Registry

RewardFn = Callable[..., list[float]]

REWARDS: Registry[RewardFn] = Registry("reward")


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    """Register ``fn`` under ``name``; the function's ``__name__`` becomes ``name`` too,
    because TRL logs each reward under its function's ``__name__``."""

    def deco(fn: RewardFn) -> RewardFn:
        fn.__name__ = name
        REWARDS.add(name, fn)
        return fn

    return deco


def get_reward(name: str) -> RewardFn:
    """The reward registered as ``name`` (``UserError`` listing the known names otherwise)."""
    return REWARDS.get(name)


@dataclass(frozen=True)
class RewardInfo:
    name: str
    doc: str  # first line of the function's docstring


def list_rewards() -> list[RewardInfo]:
    """Every registered reward with its one-line description, sorted by name (for the CLI)."""
    out = []
    for name in REWARDS.names():
        doc = (REWARDS.get(name).__doc__ or "").strip().splitlines()
        out.append(RewardInfo(name=name, doc=doc[0].strip() if doc else ""))
    return out


def completion_text(completion: Any) -> str:
    """The generated text of one completion, whatever shape TRL hands it in.

    Standard prompts give a string; conversational prompts give ``[{"role": "assistant",
    "content": ...}]`` where content is a string or a list of ``{"type": "text"}`` parts.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content", ""))
    if isinstance(completion, Sequence):
        turns = [m for m in completion if isinstance(m, dict)]
        if turns:
            return _content_text(turns[-1].get("content", ""))
    raise TypeError(f"unsupported completion type {type(completion).__name__}")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def rewards_table() -> str:
    """The registered rewards as aligned ``name  description`` lines (``lingshu train rewards``)."""
    infos = list_rewards()
    width = max((len(i.name) for i in infos), default=0)
    return "\n".join(f"{i.name.ljust(width)}  {i.doc}" for i in infos)
