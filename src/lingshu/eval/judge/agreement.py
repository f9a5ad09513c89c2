"""Agreement between the rule-based scorer and the LLM judge: Cohen's kappa and the list of
samples on which they disagree.

Over the samples the judge decided (a verdict, not an error), each has two binary labels:
the rule verdict (``rule_correct``) and the judge's. With n samples, p_o the fraction on
which they agree, and p_r, p_j the fractions each calls correct,

    p_e = p_r * p_j + (1 - p_r) * (1 - p_j)        (chance agreement)
    kappa = (p_o - p_e) / (1 - p_e)

(Cohen 1960). kappa is 1 for perfect agreement, 0 for chance level, negative below it.
When p_e = 1 (both raters give one and the same label to every sample) kappa is 0/0: it is
reported as None, with the observed agreement (then 1.0) beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

DISAGREEMENT_FIELDS = ("sample_id", "index", "question", "gold", "response", "extracted")


def rule_verdict(record: Mapping[str, Any]) -> bool | None:
    """The rule-based verdict of a record, judged (``rule_correct``) or not (``correct``)."""
    return record["rule_correct"] if "rule_correct" in record else record.get("correct")


def judge_failed(record: Mapping[str, Any]) -> bool:
    """Whether the judge was due to decide this record and gave no verdict."""
    block = record.get("judge")
    return isinstance(block, Mapping) and block.get("verdict") is None


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two binary labelings of the same items; None when undefined
    (no items, or chance agreement 1)."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: {len(a)} labels against {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(map(bool, a)) / n, sum(map(bool, b)) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


@dataclass
class Agreement:
    n: int
    n_agree: int
    observed: float | None
    expected: float | None
    kappa: float | None
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rule_judge_agreement(records: Iterable[Mapping[str, Any]]) -> Agreement:
    """Agreement over the records that carry both a rule verdict and a judge verdict.

    Each disagreement lists the sample (id, index, question, gold, response, what the rule
    scorer extracted), both verdicts and the judge's rationale, in record order.
    """
    rule: list[bool] = []
    judge: list[bool] = []
    disagreements: list[dict[str, Any]] = []
    for r in records:
        block = r.get("judge")
        if not isinstance(block, Mapping) or block.get("verdict") is None:
            continue
        if r.get("rule_correct") is None:
            continue
        rv, jv = bool(r["rule_correct"]), bool(block["verdict"])
        rule.append(rv)
        judge.append(jv)
        if rv != jv:
            item = {k: r.get(k) for k in DISAGREEMENT_FIELDS}
            item.update(rule_correct=rv, judge_verdict=jv, rationale=block.get("rationale"))
            disagreements.append(item)
    n = len(rule)
    if n == 0:
        return Agreement(0, 0, None, None, None, [])
    pr, pj = sum(rule) / n, sum(judge) / n
    return Agreement(
        n=n,
        n_agree=n - len(disagreements),
        observed=(n - len(disagreements)) / n,
        expected=pr * pj + (1 - pr) * (1 - pj),
        kappa=cohen_kappa(rule, judge),
        disagreements=disagreements,
    )
