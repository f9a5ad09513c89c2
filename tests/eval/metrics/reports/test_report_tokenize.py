"""Our Python PTB tokenisation against the Java PTBTokenizer's output (golden files)."""

from __future__ import annotations

import shutil

import pytest

from lingshu.eval.metrics.reports.tokenize import PUNCTUATIONS, ptb_tokenize, ptb_tokenize_lines


def test_iu_xray_token_streams_match_java(coco_golden):
    assert ptb_tokenize_lines(coco_golden["predictions"]) == coco_golden["tokenized_predictions"]
    assert ptb_tokenize_lines(coco_golden["references"]) == coco_golden["tokenized_references"]


def test_hard_cases_match_java(tokenizer_cases):
    assert ptb_tokenize_lines(tokenizer_cases["hard_cases"]) == tokenizer_cases["hard_cases_java"]


def test_random_stress_set_matches_java(tokenizer_cases):
    ours = ptb_tokenize_lines(tokenizer_cases["stress"])
    bad = [(s, j, o) for s, j, o in zip(tokenizer_cases["stress"], tokenizer_cases["stress_java"], ours, strict=True) if j != o]
    assert bad == []


def test_reference_quirks_are_reproduced():
    # Bracket tokens survive: the filter lists "-LRB-" but the output is lower case.
    assert ptb_tokenize("Effusion (small).") == "effusion -lrb- small -rrb-"
    assert "-LRB-" in PUNCTUATIONS
    # A sentence-final abbreviation keeps its period when the NEXT caption starts upper case.
    assert ptb_tokenize_lines(["seen on CT.", "The heart"]) == ["seen on ct.", "the heart"]
    assert ptb_tokenize_lines(["seen on CT.", "the heart"]) == ["seen on ct.", "the heart"]
    assert ptb_tokenize_lines(["limits.", "The"]) == ["limits", "the"]
    assert ptb_tokenize("It cannot be excluded, can't it?") == "it can not be excluded ca n't it"
    assert ptb_tokenize("") == "" and ptb_tokenize_lines(["a", ""]) == ["a", ""]


def test_newlines_inside_a_caption_do_not_shift_lines():
    assert ptb_tokenize_lines(["two\nlines", "next"]) == ["two lines", "next"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for the reference tokenizer")
def test_live_java_tokenizer_agrees_on_hard_cases(tokenizer_cases):
    ptb = pytest.importorskip("pycocoevalcap.tokenizer.ptbtokenizer")
    lines = tokenizer_cases["hard_cases"] + ["A. B. C.", "x C. The", "Dr. X at 3 p.m. The end"]
    res = ptb.PTBTokenizer().tokenize({i: [{"caption": s}] for i, s in enumerate(lines)})
    assert ptb_tokenize_lines(lines) == [res[i][0] for i in range(len(lines))]
