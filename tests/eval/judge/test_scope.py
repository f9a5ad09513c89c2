"""Which samples the judge decides, per profile, scope and benchmark; what it is shown."""

from __future__ import annotations

import pytest

from lingshu.core.errors import UserError
from lingshu.eval.judge.config import resolve_scope
from lingshu.eval.judge.scope import in_scope, judge_item
from lingshu.eval.prompts import get_profile
from lingshu.eval.types import Sample


def rec(benchmark, gold, *, task="vqa", answer_type=None, question="Where?", response="x"):
    return {"benchmark": benchmark, "task": task, "gold": gold, "answer_type": answer_type,
            "question": question, "response": response}


# (record, judged under medevalkit, under open, under all-vqa), decided by hand from
# MedEvalKit's cal_metrics (VQA_RAD.py / PATH_VQA.py / SLAKE.py) and the strict scorer.
CASES = [
    (rec("vqa-rad", "yes", answer_type="closed"), False, False, True),
    (rec("vqa-rad", "No", answer_type="closed"), False, False, True),  # lower-cased first
    (rec("vqa-rad", " yes ", answer_type="closed"), False, False, True),  # stripped
    (rec("vqa-rad", "left lung", answer_type="open"), True, True, True),
    (rec("vqa-rad", "2", answer_type="closed"), True, False, True),  # closed label, gold not yes/no
    (rec("pathvqa", "no", answer_type="closed"), False, False, True),
    (rec("pathvqa", "hemorrhage", answer_type="open"), True, True, True),
    (rec("slake", "Yes", answer_type="closed"), True, False, True),  # all of SLAKE
    (rec("slake", "Liver", answer_type="closed", question="Which is bigger?"), True, False, True),
    (rec("slake", "Lung", answer_type="open"), True, True, True),
    (rec("slake", "肺", answer_type="open", question="哪里?"), True, True, True),
    (rec("slake", "是", answer_type="closed"), True, False, True),
    (rec("mmmu-med", "5 mg", answer_type=None), False, True, True),
    (rec("omnimedvqa", "A", task="mcq"), False, False, False),  # MCQs never
    (rec("slake", "A", task="mcq"), False, False, False),
    (rec("iu-xray", "Findings: ...", task="report"), False, False, False),
    (rec("pmc-vqa", "B", task="mcq"), False, False, False),
]


@pytest.mark.parametrize(("record", "mek", "open_", "all_"), CASES)
def test_scopes(record, mek, open_, all_):
    assert in_scope("medevalkit", record) is mek
    assert in_scope("open", record) is open_
    assert in_scope("all-vqa", record) is all_


def _sample(r):
    return Sample(id="s", benchmark=r["benchmark"], task=r["task"], question=r["question"],
                  answer=r["gold"], answer_type=r["answer_type"],
                  options={"A": "a", "B": "b"} if r["task"] == "mcq" else {})


@pytest.mark.parametrize("record", [c[0] for c in CASES if c[0]["benchmark"] in ("vqa-rad", "pathvqa")])
def test_medevalkit_scope_is_where_its_scorer_takes_the_open_branch(record):
    """Judged exactly where the medevalkit profile's scorer uses its open-answer branch,
    i.e. where MedEvalKit's cal_metrics queues the judge."""
    v = get_profile("medevalkit").score(_sample(record), "anything")
    assert in_scope("medevalkit", record) is (v.method == "open-exact")


@pytest.mark.parametrize("record", [c[0] for c in CASES if c[0]["task"] == "vqa"])
def test_open_scope_is_where_strict_scores_open(record):
    v = get_profile("strict").score(_sample(record), "anything")
    assert in_scope("open", record) is (v.method == "open-recall")


def test_resolve_scope():
    assert resolve_scope("medevalkit", None) == "medevalkit"
    assert resolve_scope("medevalkit-reasoning", "medevalkit") == "medevalkit"
    assert resolve_scope("strict", None) == "open"
    assert resolve_scope("strict", "all-vqa") == "all-vqa"
    assert resolve_scope("strict", "medevalkit") == "medevalkit"
    with pytest.raises(UserError, match="medevalkit profile judges exactly where MedEvalKit does"):
        resolve_scope("medevalkit", "open")


def test_judge_item_medevalkit_vqa_rad_lowercases_like_medevalkit():
    r = rec("vqa-rad", " Left Lung ", question="Where is it?", response="It is \\boxed{Left Lung} ")
    item = judge_item("medevalkit", r)
    assert (item.question, item.gold, item.response) == ("Where is it?", "left lung", "left lung")


def test_judge_item_medevalkit_slake_unwraps_but_keeps_case():
    r = rec("slake", "Liver", response="<answer>The Liver</answer>")
    item = judge_item("medevalkit-reasoning", r)
    assert (item.gold, item.response) == ("Liver", "The Liver")
    plain = judge_item("medevalkit", rec("slake", "Liver", response=" The Liver\n"))
    assert plain.response == " The Liver\n"  # MedEvalKit passes SLAKE answers as they are


def test_judge_item_strict_uses_the_declared_answer():
    r = rec("slake", "Liver", response="<think>big organ on the right</think><answer> liver </answer>")
    assert judge_item("strict", r).response == "liver"
    assert judge_item("strict", rec("slake", "Liver", response="Liver.")).response == "Liver."
