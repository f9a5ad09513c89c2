"""The strict profile on the real Chinese SLAKE questions bundled in the repo.

A synthetic model answers every closed Chinese question (98 in the bundled sample of the
SLAKE test split) correctly by meaning, in phrasings written for this test and rotated so
that each is used: it must score 100%; answering every one wrong by meaning must score 0.
The phrasings name the answer's meaning (yes / no, present / absent, healthy / not, can /
cannot, the chosen alternative), never the scorer's rules.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from lingshu.eval.benchmarks.slake import Slake
from lingshu.eval.prompts import get_profile
from lingshu.eval.types import Sample

DATA = Path(__file__).resolve().parents[3] / "data" / "benchmarks"
STRICT = get_profile("strict")

YES_GOLDS = {"是", "是的", "有", "包含", "存在", "可以"}
NO_GOLDS = {"不是", "没有", "不包含", "不可以"}
GENERIC = {
    "yes": ["是", "是的。", "对", "没错，是的", "是这样"],
    "no": ["不是", "不是的", "否", "不对", "并不是"],
}
PRESENCE = {"yes": ["有", "包含", "存在", "是的，包含"], "no": ["没有", "不包含", "不存在", "无"]}
ABILITY = {"yes": ["可以", "能", "可以观察到", "能看到"], "no": ["不可以", "不能", "观察不到", "看不到"]}
# By what the question asks: "is it healthy / normal?" or "is it abnormal?"
HEALTHY = {
    "yes": ["健康", "正常", "是健康的", "看起来正常"],
    "no": ["不健康", "不正常", "异常", "不正常，有病变", "有病变"],
}
ABNORMAL = {"yes": ["异常", "是异常的", "有异常", "存在病变"], "no": ["正常", "没有异常", "未见异常"]}
# Organs, planes, weightings and sides the alternative questions name, to pick a wrong one.
ALTERNATIVES = ["右肺", "肺", "心脏", "肝脏", "肾脏", "脾脏", "t1", "t2", "横断面", "冠状面", "左侧", "右侧"]
CHOICE_PHRASES = ["{x}", "答案是{x}", "{x}。", "应该是{x}", "是{x}"]


def _closed_zh() -> list[Sample]:
    samples = Slake().load(DATA, "test-zh")
    return [s for s in samples if s.answer_type == "closed"]


def _polar_side(sample: Sample) -> str | None:
    if sample.answer in YES_GOLDS:
        return "yes"
    if sample.answer in NO_GOLDS:
        return "no"
    if sample.answer == "健康":  # "X是健康的吗?" answered in the gold's own form
        return "yes"
    return None


def _phrasings(sample: Sample, side: str) -> list[str]:
    q = sample.question
    out = list(GENERIC[side])
    obj = re.search(r"(?:包含|有)(.+?)吗", q)
    if "包含" in q or "有" in q:
        out += PRESENCE[side]
        if obj:
            verb = "包含" if "包含" in q else "有"
            out.append(f"{verb}{obj.group(1)}" if side == "yes" else f"没有{obj.group(1)}")
    if "可以" in q:
        out += ABILITY[side]
    if "健康" in q or "正常" in q:
        out += HEALTHY[side]
    if "异常" in q:
        out += ABNORMAL[side]
    return out


def _answers(sample: Sample, index: int, correct: bool) -> list[str]:
    side = _polar_side(sample)
    if side is not None:
        want = side if correct else {"yes": "no", "no": "yes"}[side]
        options = _phrasings(sample, want)
        return [options[index % len(options)]]
    gold = sample.answer.lower()
    if correct:
        return [CHOICE_PHRASES[index % len(CHOICE_PHRASES)].format(x=sample.answer)]
    q = sample.question.lower()
    others = [a for a in ALTERNATIVES if a in q and a != gold and a not in gold]
    assert others, sample.question
    return [CHOICE_PHRASES[index % len(CHOICE_PHRASES)].format(x=others[-1].upper())]


def test_bundled_sample_has_the_families():
    golds = Counter(s.answer for s in _closed_zh())
    assert len(_closed_zh()) == 98
    assert {"不是", "是的", "包含", "不包含", "有", "没有", "可以", "健康", "存在"} <= set(golds)


@pytest.mark.parametrize("correct", [True, False], ids=["right-by-meaning", "wrong-by-meaning"])
def test_meaning_scores_all_or_nothing(correct):
    samples = _closed_zh()
    verdicts = []
    for i, sample in enumerate(samples):
        for answer in _answers(sample, i, correct):
            v = STRICT.score(sample, answer)
            verdicts.append((sample.question, sample.answer, answer, v.correct, v.invalid))
    failures = [v for v in verdicts if v[3] is not correct or v[4]]
    assert not failures, failures[:10]
    assert len(verdicts) == 98


def test_every_phrasing_of_each_side_is_read():
    """Beyond the rotation: every phrasing offered for a question is scored right."""
    for sample in _closed_zh():
        side = _polar_side(sample)
        if side is None:
            continue
        for answer in _phrasings(sample, side):
            v = STRICT.score(sample, answer)
            assert v.correct, (sample.question, sample.answer, answer, v)
        other = {"yes": "no", "no": "yes"}[side]
        for answer in _phrasings(sample, other):
            v = STRICT.score(sample, answer)
            assert not v.correct and not v.invalid, (sample.question, sample.answer, answer, v)


def test_prompt_asks_for_the_gold_family_forms():
    by_gold = {s.answer: s for s in _closed_zh()}
    assert STRICT.prompt(by_gold["包含"]).endswith("请只回答'包含'或'不包含'。")
    assert STRICT.prompt(by_gold["不包含"]).endswith("请只回答'包含'或'不包含'。")
    assert STRICT.prompt(by_gold["不是"]).endswith("请只回答'是的'或'不是'。")
    assert STRICT.prompt(by_gold["没有"]).endswith("请只回答'有'或'没有'。")
    assert STRICT.prompt(by_gold["可以"]).endswith("请只回答'可以'或'不可以'。")
    assert STRICT.prompt(by_gold["健康"]).endswith("请只回答'健康'或'不健康'。")
    assert STRICT.prompt(by_gold["是"]).endswith("请只回答'是'或'否'。")
    assert STRICT.prompt(by_gold["肺"]).endswith("请用一个单词或者短语回答该问题。")
