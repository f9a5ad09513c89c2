"""Chinese answers judged by meaning: polar gold families and negation.

SLAKE's Chinese closed questions are answered in several forms, not only 是 / 否 (issue 21,
on the 1,033 Chinese test questions: 不是 83, 是的 72, 包含 65, 不包含 61, 有 21, 没有 17,
不可以 11, 不正常 7, 可以 5, 健康 2, 存在 1). A careful grader credits an answer that means
the gold, in whatever form: "不是的" for 不是, "是" for 是的, "包含肝脏" for 包含, "没有肝癌"
for 没有, "有异常" for 有 (to "左肺有异常吗?"), "不正常，有病变" for 不正常.

- ``gold_polarity``: the gold's answer as yes / no, from its family (``FAMILIES``):
  是/是的/对/正确 vs 否/不是/不对/不正确; 有/存在/包含 vs 没有/不存在/不包含/无; 可以/能 vs
  不可以/不能. Normality golds (正常/健康 vs 不正常/异常/不健康) are yes or no depending on
  what the question asks: 健康 answers "肝脏是健康的吗?" yes, 正常 answers "肺是异常的吗?" no.
- ``gold_form_pair``: the two answer forms of a gold's family ("包含" / "不包含"), for a
  prompt that asks for the gold's own form; ``None`` for 是 / 否.
- ``extract_polarity_zh``: yes / no out of a Chinese answer, clause by clause (``_clause_vote``);
  hedges (可能, 不确定, 还是 ...) make it invalid, clauses that disagree too.
- ``negated_before``: whether a negator (不, 没, 无, 非, 未) stands before a phrase in its
  clause ("不是肝脏" does not affirm 肝脏).
"""

from __future__ import annotations

import re

from lingshu.eval.scoring.normalize import clean, normalize_answer
from lingshu.eval.scoring.reasoning import (
    AMBIGUOUS,
    EMPTY,
    NOT_FOUND,
    Extraction,
    strip_think,
    unwrap_reasoning,
)

# gold (normalised) -> (family, side); side is "yes" / "no", or "normal" / "abnormal".
FAMILIES: dict[str, tuple[str, str]] = {
    **{g: ("是", "yes") for g in ("是", "是的", "对", "正确")},
    **{g: ("是", "no") for g in ("否", "不是", "不对", "不正确")},
    **{g: ("有", "yes") for g in ("有", "存在", "包含")},
    **{g: ("有", "no") for g in ("没有", "不存在", "不包含", "无")},
    **{g: ("可以", "yes") for g in ("可以", "能")},
    **{g: ("可以", "no") for g in ("不可以", "不能")},
    **{g: ("正常", "normal") for g in ("正常", "健康")},
    **{g: ("正常", "abnormal") for g in ("不正常", "异常", "不健康")},
}
# A gold's own answer forms for the prompt (yes form, no form), by the gold.
_FORM_PAIRS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("是的", "不是"), ("是的", "不是")),
    **dict.fromkeys(("对", "不对"), ("对", "不对")),
    **dict.fromkeys(("正确", "不正确"), ("正确", "不正确")),
    **dict.fromkeys(("有", "没有", "无"), ("有", "没有")),
    **dict.fromkeys(("存在", "不存在"), ("存在", "不存在")),
    **dict.fromkeys(("包含", "不包含"), ("包含", "不包含")),
    **dict.fromkeys(("可以", "不可以"), ("可以", "不可以")),
    **dict.fromkeys(("能", "不能"), ("能", "不能")),
    **dict.fromkeys(("正常", "不正常", "异常"), ("正常", "不正常")),
    **dict.fromkeys(("健康", "不健康"), ("健康", "不健康")),
}

NEGATORS = "不没无非未否"
"""Chinese negators (issue 21: 不, 没, 无, 非, 未 before the gold; 否 as a reply)."""
# Words that start with a negator but do not negate (非常 "very", 无法 is a hedge below).
_NOT_NEGATION = re.compile(r"非常|无论|不仅|不但|未来")
_ABNORMAL = re.compile(r"不正常|异常|不健康|病变|病灶")
_NORMAL = re.compile(r"正常|健康")
# Verbs that answer a polar question by saying it is so (是, 有, 包含, 可以, 看到 ...), and
# seeing-verbs that hold their own negator (看不到 "cannot see", 未见 "not seen").
_AFFIRM = re.compile(
    r"看不到|看不见|见不到|观察不到|未见|未发现|不可见|"
    r"是|对|正确|有|存在|包含|含|可以|能|会|可见|看到|看见|见到|观察到|显示"
)
HEDGE = re.compile(
    r"可能|也许|或许|大概|似乎|不确定|不能确定|无法|难以|难说|不好说|不清楚|不一定|还是|或者"
)
_CLAUSE = re.compile(r"[,，.。;；!！?？:：、\s]+")
# Characters an answer clause may hold besides the question's own and the polarity words:
# pronouns, "image", particles, degree words.
_FILLER = set("这那此该它其图片像影中里内上的地得了吗呢啊吧呀也都很并且确实明显清楚部张个样如")
# Set phrases holding a negator that affirm: 没错 "no mistake" is "right".
_AFFIRMING_IDIOMS = {"没错": "对", "没问题": "对"}


def gold_polarity(gold: str, question: str) -> str | None:
    """"yes" / "no" for a gold in a Chinese family (module docstring), else None."""
    family = FAMILIES.get(normalize_answer(gold).replace(" ", ""))
    if family is None:
        return None
    side = family[1]
    if side in ("yes", "no"):
        return side
    asks = _asks(question)
    return None if asks is None else ("yes" if side == asks else "no")


def gold_form_pair(gold: str) -> tuple[str, str] | None:
    """The gold family's (yes form, no form), or None for 是 / 否 and non-family golds."""
    return _FORM_PAIRS.get(normalize_answer(gold).replace(" ", ""))


def _asks(question: str) -> str | None:
    """Whether a question asks if something is abnormal ("肺是异常的吗?", "左肺有异常吗?")
    or normal ("肝脏是健康的吗?", "是否正常?"); None otherwise."""
    if _ABNORMAL.search(question):
        return "abnormal"
    if _NORMAL.search(question):
        return "normal"
    return None


def extract_polarity_zh(response: str, question: str) -> Extraction:
    """"yes" / "no" from a Chinese answer to a polar question, or invalid.

    Each clause votes (``_clause_vote``); one distinct vote decides, none or both give
    invalid. A hedge anywhere (可能, 不确定, 无法判断, "包含还是不包含") gives invalid.
    """
    body = strip_think(response)
    text = clean(unwrap_reasoning(body)).lower().strip()
    if not re.sub(r"\W", "", text):
        return EMPTY
    if HEDGE.search(text):
        return AMBIGUOUS
    q = clean(question).lower()
    votes = {v for c in _CLAUSE.split(text) if c for v in [_clause_vote(c, q)] if v}
    if len(votes) == 1:
        return Extraction(votes.pop())
    return AMBIGUOUS if votes else NOT_FOUND


def _clause_vote(clause: str, question: str) -> str | None:
    """A clause's answer: normality ("不正常", "有病变", "未见异常") relative to what the
    question asks, else a polarity verb (``_AFFIRM``) or a bare negator, negated when a
    negator stands before it or in it ("不包含", "没有肝癌", "看不到"). A clause naming things that are
    not in the question ("这是CT" to "...核磁共振吗?") votes nothing: it is about something
    else."""
    asks = _asks(question)
    plain = _NOT_NEGATION.sub("", clause)
    for idiom, meaning in _AFFIRMING_IDIOMS.items():
        plain = plain.replace(idiom, meaning)
    if asks is not None:
        state = _normality(plain)
        if state is not None:
            return "yes" if state == asks else "no"
    negated = plain[:1] in NEGATORS
    affirm = _AFFIRM.search(plain)
    if affirm is None and not negated:
        return None
    if affirm is not None:
        negated = negated or any(ch in NEGATORS for ch in plain[: affirm.end()])
        if not _about_question(plain, question):
            return None
    return "no" if negated else "yes"


def _normality(clause: str) -> str | None:
    """"normal" / "abnormal" when the clause calls something so, a negator before the
    term flipping it ("没有异常", "不是正常的"); None when it says nothing about it."""
    found = _ABNORMAL.search(clause) or _NORMAL.search(clause)
    if found is None:
        return None
    state = "abnormal" if _ABNORMAL.fullmatch(found.group(0)) else "normal"
    if any(ch in NEGATORS for ch in clause[: found.start()]):
        state = "normal" if state == "abnormal" else "abnormal"
    return state


def _about_question(clause: str, question: str) -> bool:
    """Whether every word character of the clause outside polarity words, negators and
    fillers occurs in the question (Latin words whole, CJK characters one by one)."""
    rest = _AFFIRM.sub("", clause)
    latin = re.findall(r"[a-z0-9]+", rest)
    if any(w not in question for w in latin):
        return False
    cjk = re.sub(r"[a-z0-9\W_]", "", rest)
    return all(ch in question or ch in _FILLER or ch in NEGATORS for ch in cjk)


def negated_before(clause: str, start: int) -> bool:
    """Whether a Chinese negator stands before ``start`` in ``clause`` ("不是肝脏", "未见心脏",
    "非CT"), words such as 非常 aside."""
    return any(ch in NEGATORS for ch in _NOT_NEGATION.sub("  ", clause[:start]))
