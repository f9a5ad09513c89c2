"""How judge verdicts live in per-sample records.

A judged sample gets a *newer record* appended to ``samples/<benchmark>.jsonl``: a copy of
its answer record with

- ``rule_correct``: the rule-based verdict of the profile's scorer (kept for agreement);
- ``judge``: ``{verdict, rationale, error, cached, raw, prompt_version, model}``;
- ``correct``: the judge's verdict, or None when the judge failed (``judge.error``).

``metrics.aggregate.latest_records`` keeps the last record per sample, so metrics, merge
and compare read the judged version without knowing how it got there, and nothing is
rewritten in place (a kill during judging loses at most the chunk in flight; its answers
are in the judge cache). A judge error is excluded from accuracy and counted, never scored
wrong.

A record is (re)judged when it is in scope and has no judge block, or its judge request
failed (``judge.raw`` is None); an answer the judge gave but that had no readable verdict is
kept as it is (asking again with greedy decoding gives the same answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lingshu.eval.judge.agreement import judge_failed, rule_verdict
from lingshu.eval.judge.config import JudgeConfig, JudgeScope
from lingshu.eval.judge.judge import JudgeResult
from lingshu.eval.judge.scope import in_scope

__all__ = ["judge_failed", "needs_judgement", "rule_verdict", "with_judgement"]


def needs_judgement(record: Mapping[str, Any], scope: JudgeScope) -> bool:
    if record.get("error") is not None or not in_scope(scope, record):
        return False
    block = record.get("judge")
    if not isinstance(block, Mapping):
        return True
    return block.get("verdict") is None and block.get("raw") is None


def with_judgement(
    record: Mapping[str, Any], result: JudgeResult, config: JudgeConfig
) -> dict[str, Any]:
    """The newer record of a judged sample (see the module docstring)."""
    out = dict(record)
    out["rule_correct"] = rule_verdict(record)
    out["correct"] = result.verdict
    out["judge"] = {
        **result.to_dict(),
        "prompt_version": config.prompt_version,
        "model": config.model,
    }
    return out
