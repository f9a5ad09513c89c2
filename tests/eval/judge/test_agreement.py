"""Cohen's kappa against hand-worked values, and which records the agreement is over."""

from __future__ import annotations

import pytest

from lingshu.eval.judge.agreement import cohen_kappa, rule_judge_agreement

T, F = True, False


def test_textbook_example():
    # Two raters, 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 (the example in
    # Wikipedia's "Cohen's kappa"): p_o = 35/50 = 0.7; rater A says yes 25/50, B 30/50;
    # p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    a = [T] * 20 + [T] * 5 + [F] * 10 + [F] * 15
    b = [T] * 20 + [F] * 5 + [T] * 10 + [F] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # p_o = 7/10, p_a = 0.6, p_b = 0.5, p_e = 0.3 + 0.2 = 0.5 -> 0.4
        ([T, T, T, T, T, T, F, F, F, F], [T, T, T, T, F, F, T, F, F, F], 0.4),
        ([T, F, T, F], [T, F, T, F], 1.0),  # perfect agreement
        ([T, T, F, F], [F, F, T, T], -1.0),  # p_o 0, p_e 0.5
        # a constant rater: p_o = 0.75, p_a = 1, p_b = 0.75, p_e = 0.75 -> 0
        ([T, T, T, T], [T, T, T, F], 0.0),
        # p_o = 2/3, p_a = 2/3, p_b = 1/3, p_e = 2/9 + 2/9 = 4/9 -> (6/9-4/9)/(5/9) = 0.4
        ([T, T, F], [T, F, F], 0.4),
    ],
)
def test_hand_worked(a, b, expected):
    assert cohen_kappa(a, b) == pytest.approx(expected)


def test_undefined_cases():
    assert cohen_kappa([], []) is None
    assert cohen_kappa([T, T], [T, T]) is None  # p_e = 1: 0/0
    assert cohen_kappa([F], [F]) is None
    with pytest.raises(ValueError):
        cohen_kappa([T], [T, F])


def rec(i, rule, verdict, *, error=None, judged=True, raw="x"):
    r = {"sample_id": f"s{i}", "index": i, "question": "q", "gold": "g", "response": f"r{i}",
         "extracted": f"r{i}", "error": error, "correct": verdict if judged else rule}
    if judged:
        r["rule_correct"] = rule
        r["judge"] = {"verdict": verdict, "rationale": f"because {i}", "error": None if verdict is not None else "e", "raw": raw}
    return r


def test_agreement_over_judged_records_only():
    records = [
        rec(0, T, T),
        rec(1, T, F),  # disagreement
        rec(2, F, F),
        rec(3, F, T),  # disagreement
        rec(4, T, None),  # judge error: not a pair
        rec(5, F, F, judged=False),  # out of scope: not a pair
    ]
    ag = rule_judge_agreement(records)
    # pairs (T,T) (T,F) (F,F) (F,T): p_o 0.5, p_r 0.5, p_j 0.5, p_e 0.5 -> kappa 0
    assert (ag.n, ag.n_agree, ag.observed, ag.expected) == (4, 2, 0.5, 0.5)
    assert ag.kappa == pytest.approx(0.0)
    assert [d["sample_id"] for d in ag.disagreements] == ["s1", "s3"]
    first = ag.disagreements[0]
    assert (first["rule_correct"], first["judge_verdict"], first["rationale"]) == (T, F, "because 1")
    assert first["response"] == "r1" and first["gold"] == "g"


def test_no_judged_records():
    ag = rule_judge_agreement([rec(0, T, T, judged=False)])
    assert (ag.n, ag.kappa, ag.observed, ag.disagreements) == (0, None, None, [])
