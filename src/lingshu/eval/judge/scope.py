"""Which answered samples the judge decides, and what it is shown of each.

Both work on per-sample records (the dicts in ``samples/<benchmark>.jsonl``): judging
happens after the model's answers are recorded, from the records alone.

Scopes (``config.JudgeScope``):

- ``medevalkit``, the only scope of the ``medevalkit`` profiles, is where MedEvalKit's
  ``cal_metrics`` calls its judge: VQA-RAD and PathVQA questions whose gold answer,
  lower-cased and stripped, is not "yes"/"no" (the same test its scorer uses to pick the
  yes/no branch, ``scoring.medevalkit.vqa_verdict``; the prompt choice applies it to the
  gold as released, which for these datasets' lower-case golds is the same split), and
  every SLAKE question, open and closed. Nothing else: MCQs never, MMMU-Med's open
  questions neither.
- ``open`` (default of ``strict``): free-form questions that the strict scorer treats as
  open, i.e. the gold is not yes/no (``scoring.verdicts.gold_yes_no``) and the benchmark
  does not label the question ``closed``.
- ``all-vqa``: every free-form question.

What the judge sees: the bare question (no answer instructions), the gold and the model's
answer as the profile's scorer reads it. For MedEvalKit's profiles that is MedEvalKit's
view: ``\\boxed{}`` content, else ``<answer>`` content, else the response; for VQA-RAD and
PathVQA both answer and gold lower-cased and stripped, as MedEvalKit passes them. For other
profiles it is the declared answer (``scoring.extract.unwrap_reasoning``: ``<think>``
removed, ``<answer>`` / ``\\boxed{}`` / "final answer:" unwrapped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lingshu.eval.judge.config import JudgeScope
from lingshu.eval.judge.prompt import JudgeItem
from lingshu.eval.scoring.medevalkit import GOLD_DECIDES_PROMPT, unwrap_vqa
from lingshu.eval.scoring.extract import unwrap_reasoning
from lingshu.eval.scoring.verdicts import gold_yes_no

MEDEVALKIT_JUDGED_BENCHMARKS = ("slake", *GOLD_DECIDES_PROMPT)
"""Benchmarks MedEvalKit runs its judge on (all of SLAKE; VQA-RAD / PathVQA open ones)."""

MEDEVALKIT_PROFILES = ("medevalkit", "medevalkit-reasoning")


def in_scope(scope: JudgeScope, record: Mapping[str, Any]) -> bool:
    """Whether the judge decides this record's sample under ``scope``."""
    if record.get("task") != "vqa":
        return False  # multiple choice and reports: never
    gold = str(record.get("gold") or "")
    if scope == "all-vqa":
        return True
    if scope == "open":
        return gold_yes_no(gold) is None and record.get("answer_type") != "closed"
    if scope == "medevalkit":
        bench = record.get("benchmark")
        if bench == "slake":
            return True
        return bench in GOLD_DECIDES_PROMPT and gold.lower().strip() not in ("yes", "no")
    raise ValueError(f"unknown judge scope {scope!r}")


def judge_item(profile: str, record: Mapping[str, Any]) -> JudgeItem:
    """The question, gold and answer the judge is shown for ``record`` under ``profile``."""
    question = str(record.get("question") or "")
    gold = str(record.get("gold") or "")
    response = str(record.get("response") or "")
    if profile in MEDEVALKIT_PROFILES:
        response = unwrap_vqa(response)
        if record.get("benchmark") in GOLD_DECIDES_PROMPT:
            gold, response = gold.lower().strip(), response.lower().strip()
        return JudgeItem(question=question, gold=gold, response=response)
    return JudgeItem(question=question, gold=gold, response=unwrap_reasoning(response))
