"""RaTEScore: sentence splitting, BIO entity decoding and the weighted similarity on
hand-worked cases, then the whole metric on tiny random models in the real formats."""

from __future__ import annotations

import pytest
import torch

from lingshu.eval.metrics.reports import score_reports
from lingshu.eval.metrics.reports.ratescore import (
    NEGATION_PAIRS,
    TYPES,
    Affinity,
    directional_score,
    entity_spans,
    pair_score,
    split_sentences,
)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "no", "acute", "disease", "heart", "size",
         "is", "normal", "small", "left", "effusion", "lungs", "are", "clear", ".", "mild",
         "cardiomegaly", "right"]  # fmt: skip


def test_sentences():
    assert split_sentences("Heart size is normal. Lungs are clear.\nNo effusion!") == [
        "Heart size is normal.", "Lungs are clear.", "No effusion!"
    ]
    # Abbreviations and decimals do not end a sentence; tiny fragments are dropped.
    assert split_sentences("Nodule approx. 1.5 cm in size. ok") == ["Nodule approx. 1.5 cm in size."]
    assert split_sentences("") == [] and split_sentences(" . \n\n") == []
    # Units and "no" do end sentences in reports.
    assert split_sentences("Nodule measuring 3 cm. Lungs are clear. Effusion: no. Heart normal.") == [
        "Nodule measuring 3 cm.", "Lungs are clear.", "Effusion: no.", "Heart normal."
    ]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # [CLS] a b c d [SEP] with labels per token.
        (["O", "B-DISEASE", "I-DISEASE", "O", "B-ANATOMY", "O"], [(1, 2, "DISEASE"), (4, 4, "ANATOMY")]),
        # B followed by B: two one-token entities.
        (["O", "B-ANATOMY", "B-DISEASE", "O", "O", "O"], [(1, 1, "ANATOMY"), (2, 2, "DISEASE")]),
        # I followed by B closes the open entity; the new one starts at the I (reference rule).
        (["O", "B-DISEASE", "I-DISEASE", "B-ANATOMY", "O", "O"], [(1, 2, "DISEASE"), (3, 3, "ANATOMY")]),
        # An entity still open at the end runs to the token before [SEP]'s position.
        (["O", "O", "B-ABNORMALITY", "I-ABNORMALITY", "I-ABNORMALITY", "I-ABNORMALITY"],
         [(2, 4, "ABNORMALITY")]),
        # A stray I- with nothing open is dropped.
        (["O", "I-DISEASE", "O", "O", "O", "O"], []),
        (["O"] * 6, []),
    ],
)
def test_entity_decoding(labels, expected):
    tokens = ["[CLS]", "a", "b", "c", "d", "[SEP]"]
    assert entity_spans(tokens, labels) == expected


def test_directional_score_hand_worked():
    aff = Affinity.named("long")
    src = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    tgt = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # Source 0 matches target 0 (cos 1), source 1 matches target 1 (cos 1/sqrt 2).
    w_dd = aff.weights[("DISEASE", "DISEASE")]
    w_an = aff.weights[("ANATOMY", "NON-DISEASE")]
    got = directional_score(src, tgt, ["DISEASE", "ANATOMY"], ["DISEASE", "NON-DISEASE"], aff)
    assert got == pytest.approx((1.0 * w_dd + 2**-0.5 * w_an) / (w_dd + w_an))
    # A presence disagreement (DISEASE vs NON-DISEASE) is penalised.
    neg = directional_score(src[:1], tgt[:1], ["DISEASE"], ["NON-DISEASE"], aff)
    assert ("DISEASE", "NON-DISEASE") in NEGATION_PAIRS
    assert neg == pytest.approx(aff.neg_weight)  # cos 1 x w x penalty / w
    assert Affinity.named("long").weights[("DISEASE", "ANATOMY")] == pytest.approx(0.9950209388542061)
    assert Affinity.named("short").neg_weight == pytest.approx(0.3611577852354489)


def test_pair_score_edges():
    aff = Affinity.named("long")
    e = torch.eye(2)
    assert pair_score((e, ["DISEASE", "ANATOMY"]), (e, ["DISEASE", "ANATOMY"]), aff) == pytest.approx(1.0)
    assert pair_score((torch.zeros((0, 0)), []), (e, ["DISEASE", "ANATOMY"]), aff) == 0.5
    # Opposite vectors: both directions -1 x ... ; harmonic mean of two equal negatives.
    assert pair_score((e[:1], ["ANATOMY"]), (-e[:1], ["ANATOMY"]), aff) == pytest.approx(-1.0)


@pytest.fixture(scope="module")
def tiny_rate_models(tmp_path_factory):
    """A token classifier with RaTE's label set whose classifier always says B-ANATOMY (so
    every word piece is an entity, a case worked by hand), and a tiny random encoder."""
    from transformers import BertConfig, BertForTokenClassification, BertModel, BertTokenizer

    d = tmp_path_factory.mktemp("rate")
    (d / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tok = BertTokenizer(str(d / "vocab.txt"))
    labels = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]
    cfg = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    ner = BertForTokenClassification(BertConfig(**cfg, id2label=dict(enumerate(labels)),
                                                label2id={x: i for i, x in enumerate(labels)}))
    with torch.no_grad():
        ner.classifier.weight.zero_()
        ner.classifier.bias.zero_()
        ner.classifier.bias[labels.index("B-ANATOMY")] = 5.0
    ner.save_pretrained(d / "ner")
    tok.save_pretrained(d / "ner")
    enc = BertModel(BertConfig(**cfg), add_pooling_layer=False).eval()
    enc.save_pretrained(d / "enc")
    tok.save_pretrained(d / "enc")
    return d, tok, enc


def test_ratescore_end_to_end_on_tiny_models(tiny_rate_models):
    d, tok, enc = tiny_rate_models
    refs = ["Mild cardiomegaly. Small left effusion.", "Lungs are clear.", "No acute disease."]
    preds = ["Heart size is normal. Small right effusion.", "Lungs are clear.", ""]
    s = score_reports(preds, refs, ["ratescore"],
                      {"weights": {"ratescore": str(d / "ner"), "ratescore_embedder": str(d / "enc")}})
    assert s.unavailable == {}

    def vectors(report):  # by hand: every word piece is an ANATOMY entity
        pieces = [p for sentence in split_sentences(report) for p in tok.tokenize(sentence)]
        e = tok(pieces, padding=True, return_tensors="pt")
        with torch.no_grad():
            v = enc(**e).last_hidden_state[:, 0, :]
        return torch.nn.functional.normalize(v, dim=1)

    a, b = vectors(refs[0]), vectors(preds[0])
    sim = a @ b.T
    p, r = sim.max(dim=1).values.mean().item(), sim.max(dim=0).values.mean().item()
    assert s.per_sample[0]["ratescore"] == pytest.approx(2 * p * r / (p + r), abs=1e-5)
    assert s.per_sample[1]["ratescore"] == pytest.approx(1.0, abs=1e-6)  # identical reports
    assert s.per_sample[2]["ratescore"] == 0.5  # an empty candidate: no entity on one side
    assert s.corpus["ratescore"] == pytest.approx(sum(x["ratescore"] for x in s.per_sample) / 3)


def test_missing_or_wrong_models_are_unavailable(tiny_rate_models, tmp_path):
    d, _, _ = tiny_rate_models
    s = score_reports(["a"], ["a"], ["ratescore"], {"weights": {"ratescore": str(tmp_path / "no")}})
    assert "weights.ratescore" in s.unavailable["ratescore"] and "\n" not in s.unavailable["ratescore"]
    s = score_reports(["a"], ["a"], ["ratescore"],
                      {"weights": {"ratescore": str(d / "enc"), "ratescore_embedder": str(d / "enc")}})
    assert "not a RaTE NER model" in s.unavailable["ratescore"]
