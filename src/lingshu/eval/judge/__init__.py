"""The LLM judge for free-form answers (docs/judge.md).

- ``prompt``: the versioned judge prompt (MedEvalKit's semantics, our wording);
- ``parse``: verdict and rationale out of a judge's answer; garbage is an error, never a
  verdict;
- ``cache``: judge answers in their own SQLite table;
- ``judge``: ``Judge`` (HTTP through the ``openai`` backend) and ``JudgeResult``;
- ``scope``: which samples are judged, per profile and ``--judge-scope``;
- ``records``: how verdicts are stored in per-sample records;
- ``agreement``: Cohen's kappa between rule-based scores and the judge;
- ``config``: ``JudgeConfig`` (``EvalConfig.judge``).

Light names are imported here; ``Judge`` and the record helpers load on first use, so that
``lingshu.eval.config`` can import ``JudgeConfig`` without the backends.
"""

from __future__ import annotations

from typing import Any

from lingshu.eval.judge.agreement import (
    Agreement,
    cohen_kappa,
    judge_failed,
    rule_judge_agreement,
    rule_verdict,
)
from lingshu.eval.judge.config import JudgeConfig, JudgeScope, resolve_scope
from lingshu.eval.judge.parse import Judgement, parse_judgement
from lingshu.eval.judge.prompt import (
    DEFAULT_PROMPT_VERSION,
    JUDGE_PROMPTS,
    JudgeItem,
    JudgePrompt,
    get_judge_prompt,
)

_LAZY = {
    "Judge": "lingshu.eval.judge.judge",
    "JudgeResult": "lingshu.eval.judge.judge",
    "JudgeCache": "lingshu.eval.judge.cache",
    "judge_cache_key": "lingshu.eval.judge.cache",
    "in_scope": "lingshu.eval.judge.scope",
    "judge_item": "lingshu.eval.judge.scope",
    "needs_judgement": "lingshu.eval.judge.records",
    "with_judgement": "lingshu.eval.judge.records",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lingshu.eval.judge' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_PROMPT_VERSION",
    "JUDGE_PROMPTS",
    "Agreement",
    "JudgeConfig",
    "JudgeItem",
    "JudgePrompt",
    "JudgeScope",
    "Judgement",
    "cohen_kappa",
    "get_judge_prompt",
    "judge_failed",
    "parse_judgement",
    "resolve_scope",
    "rule_judge_agreement",
    "rule_verdict",
    *_LAZY,
]
