"""Extraction building blocks: reasoning unwrapping, normalisation, question wording, and
the reasons given for invalid answers (the golden file covers whole responses)."""

from __future__ import annotations

import pytest

from lingshu.eval.scoring import (
    answer_tokens,
    contains_phrase,
    extract_choice,
    extract_short_answer,
    extract_yes_no,
    gold_yes_no,
    is_polar_question,
    last_answer_tag,
    last_boxed,
    normalize_answer,
    strip_think,
    unwrap_reasoning,
)

OPTS = {"A": "Pneumonia", "B": "Asthma", "C": "Tuberculosis", "D": "Lung cancer"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>x</think>B", " B"),  # a block becomes one space
        ("<THINK>x</THINK> B", "  B"),
        ("<think>a</think>mid<think>b</think>end", " mid end"),
        ("B <think>never closed", "B "),
        ("reasoning only</think>answer", "answer"),
        ("plain", "plain"),
    ],
)
def test_strip_think(text, expected):
    assert strip_think(text) == expected


def test_last_boxed_balances_nested_braces_and_unwraps_text():
    assert last_boxed(r"\boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{A} then \boxed{ \text{C} }") == "C"
    assert last_boxed(r"$\boxed{\textbf{B}}$") == "B"
    assert last_boxed(r"\boxed{never closed") is None
    assert last_boxed("no box") is None


def test_last_answer_tag():
    assert last_answer_tag("<answer>A</answer> <answer>C</answer>") == "C"
    assert last_answer_tag("<Answer> B") == " B"  # unclosed: runs to the end
    assert last_answer_tag("none") is None


@pytest.mark.parametrize(
    ("response", "declared"),
    [
        ("<think>B?</think><answer>D</answer>", "D"),
        (r"so \boxed{C}.", "C"),
        ("Long text. The answer is left lung.", "left lung."),
        ("Final answer: 3 mm", "3 mm"),
        ("答案是肝脏", "肝脏"),
        ("The answer is", "The answer is"),  # nothing after the phrase: keep the text
        ("  just text  ", "just text"),
        ("<answer>A</answer> and \\boxed{B}", "A"),  # an answer tag wins over a box
    ],
)
def test_unwrap_reasoning(response, declared):
    assert unwrap_reasoning(response) == declared


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The Left-Lung.", ["left", "lung"]),
        ("Two lesions", ["2", "lesions"]),
        ("twenty one", ["20", "1"]),
        ("ＭＲＩ（T2）", ["mri", "t2"]),
        ("左肺有结节", ["左", "肺", "有", "结", "节"]),
        ("**bold** and `code`", ["bold", "and", "code"]),
        ("", []),
    ],
)
def test_answer_tokens(text, tokens):
    assert answer_tokens(text) == tokens
    assert normalize_answer(text) == " ".join(tokens)


@pytest.mark.parametrize(
    ("question", "polar"),
    [
        ("Is there a pneumothorax?", True),
        ("Does the image show a fracture?", True),
        ("Are the lungs normal?", True),
        ("Can you see the liver?", True),
        ("Isn't the heart enlarged?", True),
        ("Is this an MRI or a CT?", False),
        ("What organ is shown?", False),
        ("Which lobe is affected?", False),
        ("Where is the mass?", False),
        ("How many lesions are there?", False),
        ("Organ shown: is it the liver?", False),  # wording, not a keyword search
        ("是否有气胸?", True),
        ("图中有肝脏吗？", True),
        ("这是什么器官?", False),
        ("", False),
    ],
)
def test_is_polar_question(question, polar):
    assert is_polar_question(question) is polar


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("", "empty"),
        ("<think>ran out of tokens", "empty"),
        ("<answer> </answer>", "empty"),
        ("...", "empty"),
        ("I cannot tell", "not-found"),
        ("A and B", "ambiguous"),
        ("Answer: A. On reflection, answer: B", "ambiguous"),
        ("F", "out-of-range"),
    ],
)
def test_choice_invalid_reasons(response, reason):
    got = extract_choice(response, OPTS)
    assert (got.value, got.reason, got.invalid) == (None, reason, True)


def test_choice_needs_options_and_duplicate_option_texts_are_ambiguous():
    assert extract_choice("A", {}).reason == "no-options"
    assert extract_choice("Same", {"A": "Same", "B": "same."}).reason == "ambiguous"


def test_yes_no_without_question_uses_reply_words_only():
    assert extract_yes_no("No evidence of it.").value == "no"
    assert extract_yes_no("Yes.").value == "yes"
    assert extract_yes_no("There is a nodule").reason == "not-found"
    assert extract_yes_no("yes and no").reason == "ambiguous"
    assert extract_yes_no("").reason == "empty"


def test_short_answer_and_phrase_containment():
    assert extract_short_answer("**Left lung**").value == "Left lung"
    assert extract_short_answer("<think>x</think>").reason == "empty"
    assert extract_short_answer('"..."').reason == "empty"
    assert contains_phrase("In the right upper lobe.", "Right upper lobe")
    assert not contains_phrase("upper right lobe", "right upper lobe")
    assert not contains_phrase("rightupper lobe", "right upper")  # whole tokens only
    assert not contains_phrase("anything", "")


@pytest.mark.parametrize(
    ("gold", "expected"),
    [("yes", "yes"), ("No", "no"), (" YES. ", "yes"), ("是", "yes"), ("否", "no"), ("none", None)],
)
def test_gold_yes_no(gold, expected):
    assert gold_yes_no(gold) == expected
