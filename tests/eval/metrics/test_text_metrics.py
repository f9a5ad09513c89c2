"""Open-answer metrics against independent references: nltk's sentence BLEU and
rouge-score's ROUGE-L on the same tokens, and hand-worked precision / recall / F1."""

from __future__ import annotations

import math
import warnings

import pytest
from nltk.translate.bleu_score import sentence_bleu as nltk_sentence_bleu
from rouge_score import rouge_scorer

from lingshu.eval.metrics.text import exact_match, lcs_length, rouge_l, sentence_bleu, token_prf
from lingshu.eval.scoring.normalize import answer_tokens
from lingshu.eval.scoring.verdicts import open_answer_scores

PAIRS = [
    ("left lung", "left lung"),
    ("the left lung", "left lung"),
    ("left upper lung", "left lung"),
    ("right lung", "left lung"),
    ("pneumonia", "pneumonia"),
    ("pneumonia", "bacterial pneumonia"),
    ("bacterial pneumonia of the right lower lobe", "pneumonia"),
    ("there is a small pneumothorax on the left side", "small left pneumothorax"),
    ("the heart is enlarged", "cardiomegaly"),
    ("mri", "mri"),
    ("t2 weighted mri of the brain", "t2 weighted mri"),
    ("axial ct of the abdomen with contrast", "ct abdomen with contrast"),
    ("x ray", "x ray"),
    ("chest x ray showing a nodule in the right upper lobe", "nodule in right upper lobe"),
    ("2", "2"),
    ("there are 2 lesions in the liver", "2"),
    ("liver kidney spleen", "spleen kidney liver"),
    ("liver liver liver", "liver"),
    ("liver", "liver liver"),
    ("a b c d", "a b c d"),
    ("a b c d e f g", "a b c d"),
    ("a b c", "a b c d e f g h"),
    ("a b a b a b", "a b"),
    ("brain stem glioma", "glioma of the brain stem"),
    ("metastatic lesions in both lungs", "bilateral lung metastases"),
    ("the colon and small bowel", "small bowel"),
    ("hyperintense lesion in the left frontal lobe", "left frontal lobe"),
    ("no abnormality", "normal"),
    ("fracture of the left femur neck", "left femoral neck fracture"),
    ("ring enhancing lesion", "ring-enhancing lesion"),
    ("a large mass in the pancreatic head", "mass in the head of the pancreas"),
    ("one two three four five", "one two three four five six"),
    ("肝脏", "肝脏"),
    ("左肺", "右肺"),
    ("", "pneumonia"),
]


def _tokens(pairs):
    return [(answer_tokens(p), answer_tokens(g)) for p, g in pairs]


def test_enough_pairs():
    assert len(PAIRS) >= 30


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize(("pred", "gold"), _tokens(PAIRS))
def test_bleu_matches_nltk(pred, gold, n):
    ours = sentence_bleu(pred, gold, n)
    if not pred:
        assert ours == 0.0
        return
    m = min(n, len(pred))  # effective order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns about zero-count orders
        ref = nltk_sentence_bleu([gold], pred, weights=(1 / m,) * m)
    assert ours == pytest.approx(float(ref), abs=1e-9)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize(("pred", "gold"), _tokens(PAIRS))
def test_bleu_all_orders_matches_nltk_default(pred, gold, n):
    """``effective_order=False`` (MedEvalKit's setting) equals nltk with weights 1/n."""
    if not pred:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = nltk_sentence_bleu([gold], pred, weights=(1 / n,) * n)
    ours = sentence_bleu(pred, gold, n, effective_order=False)
    assert ours == pytest.approx(float(ref), abs=1e-9)


class _Given:
    """rouge-score tokenizer that returns our tokens, so both sides see the same input."""

    def tokenize(self, text):
        return answer_tokens(text)


@pytest.mark.parametrize(("pred", "gold"), PAIRS)
def test_rouge_l_matches_rouge_score(pred, gold):
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Given())
    ref = scorer.score(gold, pred)["rougeL"].fmeasure
    assert rouge_l(answer_tokens(pred), answer_tokens(gold)) == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize(("pred", "gold"), [p for p in PAIRS if p[0].isascii() and p[1].isascii()])
def test_rouge_l_matches_rouge_score_default_tokenizer(pred, gold):
    """On ASCII text without articles rouge-score's own tokenizer agrees with ours."""
    strip = lambda s: " ".join(w for w in s.split() if w not in ("a", "an", "the"))  # noqa: E731
    pred, gold = strip(pred), strip(gold)
    number_words = {"one", "two", "three", "four", "five", "six"}
    if number_words & set((pred + " " + gold).split()):
        return  # our number words become digits
    ref = rouge_scorer.RougeScorer(["rougeL"]).score(gold, pred)["rougeL"].fmeasure
    assert rouge_l(answer_tokens(pred), answer_tokens(gold)) == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("left upper lung", "left lung", (2 / 3, 1.0, 0.8)),
        ("left lung", "left upper lung", (1.0, 2 / 3, 0.8)),  # precision and recall swap sides
        ("liver liver liver", "liver", (1 / 3, 1.0, 0.5)),  # multiset: one match only
        ("liver", "liver liver", (1.0, 0.5, 2 / 3)),
        ("a b c d", "c d e f g h", (0.5, 1 / 3, 0.4)),
        ("right lung", "left kidney", (0.0, 0.0, 0.0)),
        ("", "left lung", (0.0, 0.0, 0.0)),
        ("", "", (1.0, 1.0, 1.0)),
    ],
)
def test_token_prf_hand_worked(pred, gold, expected):
    got = token_prf(pred.split(), gold.split())
    assert got == pytest.approx(expected, abs=1e-12)


def test_bleu_hand_worked():
    # p1 = 2/2, brevity penalty exp(1 - 3/2); no bigram of the prediction is in the gold
    assert sentence_bleu(["left", "lung"], ["left", "upper", "lung"], 1) == pytest.approx(
        math.exp(-0.5)
    )
    assert sentence_bleu(["left", "lung"], ["left", "upper", "lung"], 2) == 0.0
    # an exact one-word answer scores 1 on every order (effective order), 0 with all orders
    assert sentence_bleu(["yes"], ["yes"], 4) == 1.0
    assert sentence_bleu(["yes"], ["yes"], 4, effective_order=False) == 0.0
    # counts are clipped by the gold: unigrams a, b match once each (2/6), bigram ab once (1/5)
    assert sentence_bleu(list("ababab"), list("ab"), 2) == pytest.approx(math.sqrt(2 / 6 * 1 / 5))
    assert sentence_bleu([], ["x"], 1) == 0.0


def test_lcs_and_rouge_hand_worked():
    assert lcs_length(list("abcd"), list("acdb")) == 3
    assert rouge_l(list("abcd"), list("acdb")) == pytest.approx(0.75)
    assert rouge_l(list("abc"), list("abcdef")) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert rouge_l([], list("abc")) == 0.0


def test_exact_match_and_open_scores():
    assert exact_match(["a"], ["a"]) == 1.0 and exact_match(["a"], ["b"]) == 0.0
    s = open_answer_scores("The left lung.", "left lung")
    assert s == {k: 1.0 for k in s}
    s = open_answer_scores("", "left lung")
    assert s == {k: 0.0 for k in s}
    assert set(s) == {
        "exact_match", "precision", "recall", "f1", "bleu1", "bleu2", "bleu3", "bleu4", "rouge_l",
    }  # fmt: skip
    assert open_answer_scores("Two lesions", "2 lesions")["exact_match"] == 1.0
