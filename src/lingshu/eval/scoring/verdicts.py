"""Strict verdicts: a response and a sample's gold in, a ``Verdict`` out, never a guess.

- ``mcq_verdict``: the letter from ``extract_choice``; correct iff it equals the gold
  letter; invalid when no unique letter is asserted (method ``mcq-letter``).
- ``vqa_verdict``, decided by the gold answer's *kind* (the prompt never sees the gold):
  - gold yes / no (是 / 否): ``extract_yes_no`` with the question (method ``yesno``);
  - ``answer_type == "closed"``: normalised exact match of the declared answer, or of its
    first line, with the gold ("The left lung." == "left lung"; "2" == "two"; method
    ``closed-exact``); a gold list matches the same items in any order ("Spinal cord and
    lung" for "Lung, Spinal Cord");
  - otherwise (open): correct iff the normalised gold occurs as a whole-token phrase in the
    normalised declared answer ("In the right upper lobe" contains "right upper lobe";
    method ``open-recall``), and that occurrence is not negated within its clause ("No
    pneumonia", "without pneumonia" and "pneumonia is not seen" do not affirm "pneumonia";
    a gold answer that itself negates, "no fracture", is matched as written). A gold list
    ("Brain Edema, Brain Non-enhancing Tumor") needs every item affirmed, in any order; an
    answer equal to the gold up to punctuation, case and articles is always correct. Lenient
    by design otherwise; the continuous scores and an LLM judge refine it.
  Every vqa verdict also carries ``open_answer_scores`` of the declared answer in
  ``scores`` (exact_match, precision, recall, f1, bleu1..4, rouge_l). An empty response is
  invalid, with all scores 0.
- ``verdict``: dispatch on ``sample.task``; a report sample is not scored here (report
  metrics are computed over the whole set), its verdict is marked ``report-unscored``.
"""

from __future__ import annotations

import re

from lingshu.eval.metrics.text import (
    exact_match,
    rouge_l,
    sentence_bleu,
    token_prf,
)
from lingshu.eval.scoring.chinese import (
    HEDGE as ZH_HEDGE,
    NEGATORS,
    extract_polarity_zh,
    gold_polarity,
    negated_before,
)
from lingshu.eval.scoring.closed import closed_candidates
from lingshu.eval.scoring.extract import (
    extract_choice,
    extract_short_answer,
    extract_yes_no,
    unwrap_reasoning,
)
from lingshu.eval.scoring.normalize import answer_tokens, clean, has_cjk, normalize_answer
from lingshu.eval.types import Sample, Verdict

_GOLD_YES_NO = {"yes": "yes", "no": "no", "是": "yes", "否": "no"}


def gold_yes_no(answer: str) -> str | None:
    """"yes" / "no" when the gold answer is one (any case, punctuation ignored)."""
    return _GOLD_YES_NO.get(normalize_answer(answer))


def mcq_verdict(sample: Sample, response: str) -> Verdict:
    got = extract_choice(response, sample.options)
    return Verdict(
        correct=got.value is not None and got.value == sample.answer.strip().upper(),
        extracted=got.value,
        invalid=got.invalid,
        method="mcq-letter",
    )


def vqa_verdict(sample: Sample, response: str) -> Verdict:
    declared = unwrap_reasoning(response)
    scores = open_answer_scores(declared, sample.answer)
    yes_no = polar_gold(sample)
    if yes_no is not None:
        reader = extract_polarity_zh if has_cjk(declared) else extract_yes_no
        got = reader(response, sample.question)
        return Verdict(
            correct=got.value == yes_no,
            extracted=got.value,
            invalid=got.invalid,
            scores=scores,
            method="yesno",
        )
    closed = sample.answer_type == "closed"
    method = "closed-exact" if closed else "open-recall"
    short = extract_short_answer(response)
    if short.value is None:
        return Verdict(correct=False, extracted=None, invalid=True, scores=scores, method=method)
    gold = normalize_answer(sample.answer)
    first_line = short.value.strip().splitlines()[0]
    if closed:
        readings = (short.value, first_line)
        correct = bool(gold) and (
            any(normalize_answer(r) == gold or same_list(r, sample.answer) for r in readings)
            or names_gold_alternative(short.value, sample.answer, sample.question)
        )
    else:
        correct = (bool(gold) and normalize_answer(short.value) == gold) or affirms_all(
            short.value, sample.answer
        )
    return Verdict(correct=correct, extracted=short.value, scores=scores, method=method)


def polar_gold(sample: Sample) -> str | None:
    """"yes" / "no" when the gold answers a polar question: yes / no / 是 / 否
    (``gold_yes_no``) or a Chinese gold of a yes / no family (``gold_polarity``: 不是, 包含,
    没有, 可以, 健康 ...)."""
    yes_no = gold_yes_no(sample.answer)
    if yes_no is None and has_cjk(sample.answer):
        yes_no = gold_polarity(sample.answer, sample.question)
    return yes_no


MAX_SENTENCE_WORDS = 12
"""Longest answer sentence read for a closed gold (issue 21: "<= 12 words"); longer
answers discuss rather than answer, and exact match still applies to them."""
_EN_HEDGE = re.compile(r"\b(?:or|maybe|perhaps|possibly|probably|likely|unclear|either)\b", re.I)


def names_gold_alternative(answer: str, gold: str, question: str) -> bool:
    """A closed answer in a short sentence or with a qualifier ("The mass appears
    heterogeneous.", "It is a CT scan.", "T2-weighted", "MRI, T2 weighted", "On the right."
    for "Right side", "肺更大"): at most ``MAX_SENTENCE_WORDS`` tokens, no hedge, the gold
    affirmed as a whole phrase (``affirms_phrase``, negation-aware in both languages) or,
    when the gold holds exactly one of the question's alternatives (``closed_candidates``),
    that alternative affirmed; and no other alternative affirmed ("Heterogeneous rather than
    homogeneous" gets nothing, "CT, not MRI" gets credit)."""
    toks = answer_tokens(answer)
    if not toks or len(toks) > MAX_SENTENCE_WORDS:
        return False
    if _EN_HEDGE.search(answer) or ZH_HEDGE.search(answer):
        return False
    gold_toks = set(answer_tokens(gold))
    alternatives = closed_candidates(question)
    own = [c for c in alternatives if set(c) <= gold_toks]
    others = [c for c in alternatives if not set(c) <= gold_toks]
    if any(affirms_phrase(answer, " ".join(c)) for c in others):
        return False
    if affirms_phrase(answer, gold):
        return True
    return len(own) == 1 and affirms_phrase(answer, " ".join(own[0]))


def open_answer_scores(prediction: str, gold: str) -> dict[str, float]:
    """Every open-answer metric of ``prediction`` against ``gold`` on ``answer_tokens``,
    keyed as ``lingshu.eval.metrics.text.OPEN_SCORE_KEYS``."""
    pred, ref = answer_tokens(prediction), answer_tokens(gold)
    precision, recall, f1 = token_prf(pred, ref)
    scores = {"exact_match": exact_match(pred, ref), "precision": precision, "recall": recall}
    scores["f1"] = f1
    for n in range(1, 5):
        scores[f"bleu{n}"] = sentence_bleu(pred, ref, n)
    scores["rouge_l"] = rouge_l(pred, ref)
    return scores


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase``'s tokens occur contiguously in ``text``'s tokens (both normalised
    by ``answer_tokens``); an empty phrase is never contained."""
    needle, hay = answer_tokens(phrase), answer_tokens(text)
    if not needle:
        return False
    n = len(needle)
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


# Negation cues for open answers, as tokens after ``answer_tokens`` ("isn't" -> "isn t").
_NEGATORS = frozenset(
    {"no", "not", "none", "never", "neither", "nor", "without", "absent", "absence",
     "negative", "t", "cannot", "unremarkable"}
)  # fmt: skip
# "." and "," between digits ("3.5 cm", "1,000") do not end a clause.
_CLAUSE_BREAK = re.compile(
    r"\.(?!\d)|[;:!?。；\n]|,(?!\d)|\b(?:but|however|although|though|whereas|while)\b", re.I
)
_LIST_SEPARATOR = re.compile(r",(?!\d)|[;、]|\band\b", re.I)
_LIST_FILLERS = frozenset({"etc", "等"})


def list_items(text: str) -> list[str]:
    """The items of a list answer ("Lung, Spinal Cord", "Left and top", "肝脏,左侧"),
    normalised; "etc" dropped. A single answer gives one item."""
    items = [normalize_answer(part) for part in _LIST_SEPARATOR.split(clean(text))]
    return [i for i in items if i and i not in _LIST_FILLERS]


def same_list(response: str, gold: str) -> bool:
    """Whether a closed answer names exactly the gold list's items, in any order
    ("Spinal cord and lung" for gold "Lung, Spinal Cord"). Only for golds of two or more
    items: a single gold is compared by exact match."""
    want = list_items(gold)
    return len(want) >= 2 and sorted(list_items(response)) == sorted(want)


def affirms_all(text: str, gold: str) -> bool:
    """Open answers: every item of the gold list (one item for most golds) is affirmed
    (``affirms_phrase``) somewhere in ``text``. The gold is split into items first, so
    that its own commas do not cut it apart as clause breaks would."""
    items = list_items(gold) if len(list_items(gold)) >= 2 else [gold]
    return all(affirms_phrase(text, item) for item in items)


def affirms_phrase(text: str, phrase: str) -> bool:
    """Whether some clause of ``text`` contains ``phrase`` and no negation cue.

    A clause is a stretch between punctuation or contrastive conjunctions ("no effusion,
    but pneumonia" affirms "pneumonia"). Chinese negators count only before the phrase
    ("不是肝脏", "未见心脏", "非CT" do not affirm; ``chinese.negated_before``). When the
    phrase itself contains a negator (gold "no fracture", "不规则"), plain containment
    decides.
    """
    needle = answer_tokens(phrase)
    if not needle:
        return False
    if _NEGATORS & set(needle) or set(NEGATORS) & set("".join(needle)):
        return contains_phrase(text, phrase)
    n = len(needle)
    for clause in _CLAUSE_BREAK.split(clean(text)):
        toks = answer_tokens(clause)
        if _NEGATORS & set(toks):
            continue
        hits = [i for i in range(len(toks) - n + 1) if toks[i : i + n] == needle]
        if any(not negated_before("".join(toks[:i]), i) for i in hits):
            return True
    return False


def verdict(sample: Sample, response: str) -> Verdict:
    """The strict verdict for any sample."""
    if sample.task == "mcq":
        return mcq_verdict(sample, response)
    if sample.task == "vqa":
        return vqa_verdict(sample, response)
    return Verdict(correct=False, extracted=response.strip() or None, method="report-unscored")

