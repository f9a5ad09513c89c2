"""MedEvalKit's scoring, defects included, so that published numbers can be reproduced
and set beside ``strict`` (the ``medevalkit`` profiles' prompts live in
``lingshu.eval.prompts.medevalkit``; the judge's scope reads ``GOLD_DECIDES_PROMPT`` and
``unwrap_vqa`` from here, so judging never imports a profile).

What it reproduces was read in MedEvalKit's code (alibaba-damo-academy/MedEvalKit
``utils/utils.py``, ``utils/question_formats.py`` and the per-benchmark scorers listed in
``lingshu.eval.prompts.medevalkit``); this is our own reimplementation of that behaviour.

Scoring (``invalid`` is always False: MedEvalKit has no invalid answers):
- multiple choice: the response is lower-cased; a first paragraph that is a lone letter, or
  a last paragraph whose text before its first "." is one, is taken; else ``\\boxed{}``,
  ``<answer>`` and the text after "answer is" / "answer:" / "final answer" are unwrapped and
  the text before the first "." and after the last ":" is compared with the gold letter,
  the letters and the option lines. When nothing matches, the option line most similar to
  the response (``difflib.SequenceMatcher.ratio``, first maximum, option A when all are 0,
  e.g. for an empty response) is taken: **an unparseable answer is always a guess**
  (method ``mcq-similarity-guess``). MMMU-Med uses MMMU's parser, which falls back to a
  random letter; we draw it from a generator seeded with the sample id, so the guess is
  reproducible (method ``mcq-random-guess``).
- yes/no (``judge_judgement``): after unwrapping, "\\n" and "." removed, the answer counts
  when exactly one of the *substrings* "yes" / "no" occurs and the gold is a substring of
  the response. So "Normal", "Unknown" and "Nodule present" count as "no", and "Yes, there
  is a nodule" is wrong because "nodule" contains "no".
- closed, not yes/no (SLAKE): exact string equality after lower-casing and removing "\\n"
  and "." (no stripping: "Answer: left lung" leaves " left lung" and is wrong). SLAKE's
  gold "Yes"/"No" are capitalised, which MedEvalKit's case-sensitive test does not take for
  yes/no, so they are scored by this exact match too.
- open: correct iff exact string equality (``open-exact``); scores ``exact_match``,
  ``bleu1..4`` (nltk-style sentence BLEU on MedEvalKit's tokens ``text.lower().replace(".",
  " .").split(" ")``, no smoothing, all n orders) and ``precision`` / ``recall`` / ``f1``
  **as MedEvalKit labels them**: its ``calculate_f1`` returns (f1, precision, recall) and
  its caller unpacks (precision, recall, f1), so "precision" holds the F1, "recall" the
  precision and "f1" the recall (of whitespace-token *sets*). MedEvalKit crashes on an
  empty response there; we score it 0. MedEvalKit's ROUGE comes from the ``rouge``
  package (summary-level union LCS) and is not reproduced; use ``strict``'s ``rouge_l``.
- MMMU-Med open questions: MMMU's ``eval_open`` on the unparsed response, as MedEvalKit's
  validation runner calls it (so practically always wrong; see ``mmmu_open_verdict``).
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Sequence

from lingshu.eval.metrics.text import sentence_bleu
from lingshu.eval.types import Sample, Verdict

GOLD_DECIDES_PROMPT = {"vqa-rad": True, "pathvqa": False}
"""Benchmarks whose gold answer picks the yes/no prompt and the scorer's yes/no branch;
True = gold lower-cased first (VQA-RAD does, PathVQA does not)."""


# ---- MedEvalKit's text helpers ----------------------------------------------------------------


def boxed_content(text: str) -> str:
    """Content of the last ``\\boxed{`` up to its balancing brace, stripped; the string
    "None" when there is none (mathruler's ``extract_boxed_content``, which MedEvalKit uses)."""
    start = text.rfind("\\boxed{")
    if start == -1:
        return "None"
    rest = text[start + len("\\boxed{") :]
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == -1:
                return rest[:i].strip()
    return "None"


def tag_content(text: str, tag: str) -> str:
    """All ``<tag>...</tag>`` contents joined by spaces; the text itself when there is none
    (MedEvalKit's ``extract(text, tag)``)."""
    if not text:
        return ""
    start_tag, end_tag = f"<{tag}>", f"</{tag}>"
    parts = []
    start = text.find(start_tag)
    while start != -1:
        end = text.find(end_tag, start + len(start_tag))
        if end == -1:
            break
        parts.append(text[start + len(start_tag) : end])
        start = text.find(start_tag, end + len(end_tag))
    joined = " ".join(parts).strip()
    return joined or text


_ANSWER_MARKERS = (
    "**answer**:", "**answer**", "*answer*:", "**answer:**", "answer is", "answer:", "答案:",
    "final answer", "final answer is",
)  # fmt: skip


def parse_response(response: str) -> str:
    """MedEvalKit's ``parse_response``: lower-case, unwrap ``\\boxed{}`` (whenever "boxed"
    occurs) or ``<answer>``, then keep what follows each answer marker in turn."""
    response = response.lower()
    if "boxed" in response:
        response = boxed_content(response)
    elif "<answer>" in response:
        response = tag_content(response, "answer")
    for marker in _ANSWER_MARKERS:
        if marker in response:
            response = response.split(marker)[-1]
    return response


def _tokens(text: str) -> list[str]:
    return text.lower().replace(".", " .").split(" ")


# ---- multiple choice ---------------------------------------------------------------------------


def judge_multi_choice(
    choices: Sequence[str], answer: str, response: str
) -> tuple[bool, str, bool]:
    """MedEvalKit's multiple-choice judgement: ``(correct, chosen letter, guessed)``.

    ``choices`` are the option lines as shown in the prompt ("A. Pneumonia"); ``answer`` is
    the gold letter.
    """
    alphas = [chr(ord("a") + i) for i in range(len(choices))]
    text = response.lower()
    paragraphs = text.split("\n\n")
    if paragraphs[0] in alphas:
        text = paragraphs[0]
    elif paragraphs[-1].split(".")[0] in alphas:
        text = paragraphs[-1].split(".")[0]
    text = parse_response(text).strip().lower().replace("\n", "")
    lowered = [c.lower() for c in choices]
    head = text.split(".")[0].split(":")[-1]
    gold = answer.strip().lower()
    if head == gold:
        return True, head.upper(), False
    if head in alphas:
        return lowered[alphas.index(head)] == gold, head.upper(), False
    if head in lowered:
        idx = lowered.index(head)
        correct = gold in alphas and head == lowered[alphas.index(gold)]
        return correct, alphas[idx].upper(), False
    idx = most_similar_index(lowered, text)
    return alphas[idx] == gold or lowered[idx] == gold, alphas[idx].upper(), True


def most_similar_index(candidates: Sequence[str], target: str) -> int:
    """Index of the first candidate with the highest ``SequenceMatcher.ratio`` to ``target``
    (0 when every ratio is 0)."""
    best, best_ratio = 0, 0.0
    for i, cand in enumerate(candidates):
        ratio = difflib.SequenceMatcher(None, cand, target).ratio()
        if ratio > best_ratio:
            best, best_ratio = i, ratio
    return best


def choice_verdict(sample: Sample, choices: Sequence[str], response: str) -> Verdict:
    """A multiple-choice verdict; ``choices`` are the option lines exactly as the prompt
    showed them (the profile renders them, see ``prompts.medevalkit.mcq_choices``)."""
    if sample.benchmark != "pmc-vqa":  # PMC-VQA's scorer skips this step
        response = tag_content(response, "answer")
    correct, letter, guessed = judge_multi_choice(choices, sample.answer, response)
    return Verdict(
        correct=correct,
        extracted=letter,
        method="mcq-similarity-guess" if guessed else "mcq-parse",
    )


# ---- free-form ---------------------------------------------------------------------------------


def judge_yes_no(answer: str, response: str) -> tuple[bool, str | None]:
    """MedEvalKit's ``judge_judgement``: ``(correct, "yes" | "no" | None)`` by substrings."""
    text = parse_response(response).replace("\n", "").replace(".", "")
    has_yes, has_no = "yes" in text, "no" in text
    correct = (has_yes != has_no) and answer.lower() in text
    return correct, ("yes" if has_yes else "no") if has_yes != has_no else None


def judge_closed(answer: str, response: str) -> tuple[bool, str]:
    """MedEvalKit's ``judge_close_end_vqa``: exact equality, "\\n" and "." removed."""
    text = parse_response(response).replace("\n", "").replace(".", "")
    return text == answer.lower(), text


def judge_open(answer: str, response: str) -> tuple[bool, str, dict[str, float]]:
    """MedEvalKit's ``judge_open_end_vqa`` without ROUGE: ``(exact match, parsed response,
    scores)`` with precision / recall / f1 mislabelled as MedEvalKit does."""
    gold = answer.lower()
    text = parse_response(response)
    pred_tokens, gold_tokens = _tokens(text), _tokens(gold)
    scores = {"exact_match": float(text == gold)}
    for n in range(1, 5):
        scores[f"bleu{n}"] = sentence_bleu(pred_tokens, gold_tokens, n, effective_order=False)
    true_p, true_r, true_f1 = _set_prf(text, gold)
    scores.update(precision=true_f1, recall=true_p, f1=true_r)  # MedEvalKit's labels
    return text == gold, text, scores


def _set_prf(prediction: str, gold: str) -> tuple[float, float, float]:
    pred, ref = set(prediction.lower().split()), set(gold.lower().split())
    if not pred or not ref:
        return 0.0, 0.0, 0.0  # MedEvalKit raises here (it unpacks a bare 0)
    common = len(pred & ref)
    if common == 0:
        return 0.0, 0.0, 0.0
    p, r = common / len(pred), common / len(ref)
    return p, r, 2 * p * r / (p + r)


def unwrap_vqa(response: str) -> str:
    """The unwrapping every MedEvalKit VQA scorer does first: ``\\boxed{}``, else ``<answer>``."""
    boxed = boxed_content(response)
    if boxed != "None":
        return boxed
    if "<answer>" in response:
        return tag_content(response, "answer")
    return response


def vqa_verdict(sample: Sample, response: str) -> Verdict:
    response = unwrap_vqa(response)
    if sample.benchmark in GOLD_DECIDES_PROMPT:  # VQA-RAD / PathVQA scorer
        gold, response = sample.answer.lower().strip(), response.lower().strip()
        if gold in ("yes", "no"):
            correct, said = judge_yes_no(gold, response)
            return Verdict(correct=correct, extracted=said, method="yesno-substring")
        correct, text, scores = judge_open(gold, response)
        return Verdict(correct=correct, extracted=text, scores=scores, method="open-exact")
    if sample.answer_type == "open":  # SLAKE scorer, used for every other benchmark
        correct, text, scores = judge_open(sample.answer, response)
        return Verdict(correct=correct, extracted=text, scores=scores, method="open-exact")
    if sample.answer in ("yes", "no"):
        correct, said = judge_yes_no(sample.answer, response)
        return Verdict(correct=correct, extracted=said, method="yesno-substring")
    correct, text = judge_closed(sample.answer, response)
    return Verdict(correct=correct, extracted=text, method="closed-exact")


# ---- MMMU (MedEvalKit runs MMMU's own evaluation code) -------------------------------------------


def _mmmu_unwrap(response: str) -> str:
    if "<answer>" in response:
        response = tag_content(response, "answer")
    boxed = boxed_content(response)
    return boxed if boxed != "None" else response


def mmmu_parse_choice(response: str, options: dict[str, str], seed: str) -> tuple[str, bool]:
    """MMMU's ``parse_multi_choice_response``: ``(letter, guessed)``. Looks for "(B)", then
    " B ", then (in responses of more than five words) option texts; several candidates:
    the one occurring last; none: a random letter (seeded by ``seed``)."""
    if "<answer>" in response:
        response = tag_content(response, "answer")
    elif "\\boxed" in response:
        response = boxed_content(response)
    response = response.strip()
    for ch in (",", ".", "!", "?", ";", ":", "'"):
        response = response.strip(ch)
    response = f" {response} "
    letters = list(options)
    candidates = [c for c in letters if f"({c})" in response]
    bracketed, by_letter = bool(candidates), True
    if not candidates:
        candidates = [c for c in letters if f" {c} " in response]
    if not candidates and len(response.split()) > 5:
        candidates = [c for c, text in options.items() if text.lower() in response.lower()]
        by_letter = False
    if not candidates:
        return random.Random(f"medevalkit-mmmu:{seed}").choice(letters), True
    if len(candidates) == 1:
        return candidates[0], False
    if by_letter:
        marks = [response.rfind(f"({c})" if bracketed else f" {c} ") for c in candidates]
    else:
        marks = [response.lower().rfind(options[c].lower()) for c in candidates]
    return candidates[marks.index(max(marks))], False


def mmmu_choice_verdict(sample: Sample, response: str) -> Verdict:
    letter, guessed = mmmu_parse_choice(_mmmu_unwrap(response), sample.options, sample.id)
    return Verdict(
        correct=letter == sample.answer,
        extracted=letter,
        method="mcq-random-guess" if guessed else "mcq-parse",
    )


_NUMBER_WITH_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_NUMBER_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_NUMBER_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")
_KEY_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}


def _mmmu_normalize(value: str) -> list[str | float]:
    value = value.strip()
    try:
        return [round(float(value.replace(",", "")), 2)]
    except ValueError:
        value = value.lower()
        return [" " + value, value + " "] if len(value) == 1 else [value]


def mmmu_open_predictions(response: str) -> list[str | float]:
    """MMMU's ``parse_open_response``: the shortest tail after a key phrase ("is ", "so ",
    "therefore ", ...) of each line, the numbers in them, normalised."""
    text = response.strip().strip(".").lower()
    lines = re.split(r"\.\s(?=[A-Z])|\n", text)
    keys = []
    for i, line in enumerate(lines):
        indicators = _KEY_INDICATORS + (("=",) if i == len(lines) - 1 else ())
        shortest = None
        for ind in indicators:
            if ind in line:
                tail = line.split(ind)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    keys = keys or [text]
    preds: list[str] = list(keys)
    for key in keys:
        for pattern in (_NUMBER_WITH_COMMAS, _NUMBER_SCIENTIFIC, _NUMBER_SIMPLE):
            preds.extend(pattern.findall(key))
    out: list[str | float] = []
    for p in preds:
        for v in _mmmu_normalize(p):
            if v not in out:
                out.append(v)
    return out


def mmmu_eval_open(gold: str, predictions: Sequence[str | float]) -> bool:
    """MMMU's ``eval_open``: a string gold must occur in a string prediction; a numeric gold
    must equal a numeric prediction (rounded to 2 decimals)."""
    golds = _mmmu_normalize(gold)
    for pred in predictions:
        if isinstance(pred, str):
            if any(isinstance(g, str) and g in pred for g in golds):
                return True
        elif pred in golds:
            return True
    return False


def mmmu_open_verdict(sample: Sample, response: str) -> Verdict:
    """MedEvalKit's MMMU validation runner stores the raw response as the "parsed"
    prediction of an open question (``parse_open_response`` is never called), and MMMU's
    ``eval_open`` then iterates over that string's *characters*: no gold of two or more
    characters can match, so "25" answered "25" is wrong. Reproduced: the predictions are
    the response's characters (method ``mmmu-open-unparsed``); ``mmmu_open_predictions``
    is what the parser would have given."""
    unwrapped = _mmmu_unwrap(response)
    return Verdict(
        correct=mmmu_eval_open(sample.answer, list(unwrapped)),
        extracted=unwrapped.strip(),
        method="mmmu-open-unparsed",
    )
