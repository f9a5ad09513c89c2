"""MedEvalKit's scoring helpers, case by case (expected values worked out by hand from its
code; see the module docstring of lingshu.eval.scoring.medevalkit)."""

from __future__ import annotations

import random

import pytest

from lingshu.eval.scoring.medevalkit import (
    boxed_content,
    judge_closed,
    judge_multi_choice,
    judge_open,
    judge_yes_no,
    mmmu_eval_open,
    mmmu_open_predictions,
    mmmu_parse_choice,
    most_similar_index,
    parse_response,
    tag_content,
)


def test_boxed_content_is_last_box_or_the_string_none():
    assert boxed_content(r"\boxed{a} \boxed{b{c}}") == "b{c}"
    assert boxed_content("no box") == "None"
    assert boxed_content(r"\boxed{open") == "None"
    assert boxed_content(r"\boxed{ x }") == "x"


def test_tag_content_joins_every_tag_and_falls_back_to_the_text():
    assert tag_content("<answer>A</answer> x <answer>B</answer>", "answer") == "A B"
    assert tag_content("<answer></answer>", "answer") == "<answer></answer>"
    assert tag_content("no tags", "answer") == "no tags"
    assert tag_content("", "answer") == ""


@pytest.mark.parametrize(
    ("response", "parsed"),
    [
        ("The answer is B.", " b."),
        ("**Answer:** C", " c"),
        (r"see \boxed{D}", "d"),
        ("boxed but no box", "None"),  # "boxed" appears: the box helper's "None" comes back
        ("<answer>A</answer>", "a"),
        ("Final answer: the answer is C", " c"),
        ("答案:B", "b"),
    ],
)
def test_parse_response(response, parsed):
    assert parse_response(response) == parsed


def test_multi_choice_branches():
    choices = ["A. Pneumonia", "B. Asthma", "C. Tuberculosis", "D. Lung cancer"]
    assert judge_multi_choice(choices, "B", "B") == (True, "B", False)
    assert judge_multi_choice(choices, "B", "C.") == (False, "C", False)
    # the line itself after ':' (a split that never matches "a. ..." lines in practice)
    assert judge_multi_choice(["a", "b"], "A", "x: a")[0] is True
    # nothing parses: the most similar option line, option A when all ratios are 0
    assert judge_multi_choice(choices, "A", "") == (True, "A", True)
    assert judge_multi_choice(choices, "C", "I'd say tuberculosis") == (True, "C", True)


def test_most_similar_index_takes_the_first_maximum():
    assert most_similar_index(["ab", "ab"], "ab") == 0
    assert most_similar_index(["x", "y"], "") == 0
    assert most_similar_index(["zzz", "abc"], "abd") == 1


@pytest.mark.parametrize(
    ("gold", "response", "expected"),
    [
        ("no", "Normal", (True, "no")),
        ("yes", "Yes, there is a nodule", (False, None)),
        ("yes", "eyes", (True, "yes")),
        ("no", "yes and no", (False, None)),
        ("no", "", (False, None)),
        ("no", "n.o", (True, "no")),  # "." is removed before the substring test
    ],
)
def test_yes_no_by_substring(gold, response, expected):
    assert judge_yes_no(gold, response) == expected


def test_closed_is_exact_after_removing_newlines_and_periods():
    assert judge_closed("Left Lung", "Left lung.") == (True, "left lung")
    assert judge_closed("Left Lung", " left lung") == (False, " left lung")


def test_open_scores_are_mislabelled_and_empty_does_not_crash():
    correct, text, scores = judge_open("left lung", "left upper lung")
    assert (correct, text) == (False, "left upper lung")
    # true precision 2/3, recall 1, F1 0.8 -> MedEvalKit reports them rotated
    assert scores["precision"] == pytest.approx(0.8)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(1.0)
    assert scores["bleu1"] == pytest.approx(2 / 3)
    correct, text, scores = judge_open("left lung", "")
    assert (correct, text) == (False, "")
    assert scores["precision"] == scores["recall"] == scores["f1"] == 0.0


def test_mmmu_choice_parser():
    opts = {"A": "Mitochondria", "B": "Nucleus", "C": "Ribosome", "D": "Golgi apparatus"}
    assert mmmu_parse_choice("(C) Ribosome", opts, "id") == ("C", False)
    assert mmmu_parse_choice("(A) or maybe (C)", opts, "id") == ("C", False)  # last bracket
    assert mmmu_parse_choice("B", opts, "id") == ("B", False)
    long = "I believe the golgi apparatus, not the nucleus, packages proteins"
    assert mmmu_parse_choice(long, opts, "id") == ("B", False)  # option texts: the last found
    letter, guessed = mmmu_parse_choice("unsure", opts, "sample-7")
    assert guessed and letter == random.Random("medevalkit-mmmu:sample-7").choice("ABCD")
    assert mmmu_parse_choice("unsure", opts, "sample-7") == (letter, True)  # reproducible


def test_mmmu_open_parser_and_eval():
    preds = mmmu_open_predictions("The volume is 1,250 mL")
    assert 1250.0 in preds and "1,250 ml" in preds
    assert mmmu_eval_open("1250", preds)
    assert mmmu_eval_open("1250.001", preds)  # rounded to two decimals
    assert mmmu_open_predictions("Therefore the answer is 24.") == [24.0]  # numbers as floats
    assert not mmmu_eval_open("24", mmmu_open_predictions("twenty-four"))
    assert mmmu_eval_open("aorta", mmmu_open_predictions("It is the aorta"))
    assert mmmu_open_predictions("x") == [" x", "x "]  # one character: padded both ways
