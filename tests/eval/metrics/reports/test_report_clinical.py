"""Model-based metrics: real computation on tiny random weights written in the real
checkpoint formats, and one-line "unavailable" results when weights are missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lingshu.eval.metrics.reports import score_reports
from lingshu.eval.metrics.reports.clinical import bertscore_f1, radgraph_f1

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "no", "acute", "disease", "heart", "size",
         "is", "normal", "small", "left", "effusion", "lungs", "are", "clear", "."]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_chexbert(tmp_path_factory):
    """A CheXbert-format checkpoint (DataParallel 'module.' keys, bert + linear heads) of a
    tiny random BERT, and a WordPiece tokenizer folder."""
    from transformers import BertConfig, BertModel, BertTokenizer

    d = tmp_path_factory.mktemp("chexbert")
    (d / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tok = BertTokenizer(str(d / "vocab.txt"))
    tok.save_pretrained(d / "tok")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    bert = BertModel(cfg, add_pooling_layer=False).eval()
    state = {f"module.bert.{k}": v for k, v in bert.state_dict().items()}
    state["module.linear_heads.0.weight"] = torch.zeros(4, 32)
    torch.save({"model_state_dict": state, "epoch": 3}, d / "chexbert.pth")
    return d, bert, tok


def test_semb_score_is_cosine_of_cls_embeddings(tiny_chexbert):
    d, bert, tok = tiny_chexbert
    preds = ["No acute disease.", "Heart size is normal.", ""]
    refs = ["Lungs are clear.", "Heart size is normal.", "Small left effusion."]
    s = score_reports(preds, refs, ["semb_score"],
                      {"weights": {"chexbert": str(d / "chexbert.pth"), "bert_tokenizer": str(d / "tok")}})
    assert s.unavailable == {}

    def cls(text):  # independent: HF tokenizer + model forward, [CLS] of the last layer
        enc = tok(text, return_tensors="pt")
        with torch.no_grad():
            return bert(**enc).last_hidden_state[0, 0].double().numpy()

    for i, (p, r) in enumerate(zip(preds, refs, strict=True)):
        a, b = cls(p), cls(r)
        expected = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert s.per_sample[i]["semb_score"] == pytest.approx(expected, abs=1e-6)
    assert s.per_sample[1]["semb_score"] == pytest.approx(1.0)
    assert s.corpus["semb_score"] == pytest.approx(np.mean([r["semb_score"] for r in s.per_sample]))


def test_bertscore_identity_and_rescaling(tiny_chexbert):
    _, bert, tok = tiny_chexbert
    f = bertscore_f1(bert, tok, ["heart size is normal ."], ["heart size is normal ."], layer=1, baseline=None)
    assert f[0] == pytest.approx(1.0, abs=1e-6)
    g = bertscore_f1(bert, tok, ["heart size is normal ."], ["heart size is normal ."], layer=1, baseline=(0, 0, 0.8))
    assert g[0] == pytest.approx(1.0, abs=1e-5)  # (1 - b) / (1 - b)
    h = bertscore_f1(bert, tok, ["no acute disease"], ["small left effusion"], layer=1, baseline=None)
    assert h[0] < 1.0


def test_radgraph_f1_hand_worked():
    gold = {"entities": {"1": {"tokens": "effusion", "label": "OBS-DP", "relations": [["located_at", "2"]]},
                         "2": {"tokens": "left", "label": "ANAT-DP", "relations": []}}}
    pred = {"entities": {"1": {"tokens": "effusion", "label": "OBS-DP", "relations": []},
                         "2": {"tokens": "right", "label": "ANAT-DP", "relations": []}}}
    ent, rel, combined = radgraph_f1(gold, pred)
    assert ent == pytest.approx(0.5)  # 1 of 2 entities on each side
    assert rel == 0.0 and combined == pytest.approx(0.25)
    assert radgraph_f1(gold, gold) == (1.0, 1.0, 1.0)


def test_missing_weights_are_unavailable_and_the_run_goes_on(tmp_path):
    s = score_reports(["no acute disease"], ["no acute disease"],
                      ["rouge_l", "semb_score", "radgraph", "radcliq_v1", "ratescore", "green"],
                      {"weights": {"bertscore": str(tmp_path / "nowhere")}})
    assert s.corpus["rouge_l"] == pytest.approx(1.0)
    assert set(s.unavailable) == {"semb_score", "radgraph", "radcliq_v1", "ratescore", "green"}
    assert "weights.chexbert" in s.unavailable["semb_score"]
    assert all("\n" not in reason for reason in s.unavailable.values())


def test_bertscore_unavailable_offline(tmp_path):
    s = score_reports(["a"], ["a"], ["bertscore"], {"weights": {"bertscore": str(tmp_path / "missing-model")}})
    assert "weights.bertscore" in s.unavailable["bertscore"]


def test_unknown_weight_key_is_a_user_error():
    from lingshu.core.errors import UserError

    with pytest.raises(UserError, match="unknown key"):
        score_reports(["a"], ["a"], ["rouge_l"], {"weights": {"chexpert": "/x"}})


def test_radgraph_runs_the_reference_package_up_to_its_weights(tmp_path):
    """The pinned radgraph package is called as its API expects: with an empty weights
    folder it looks for ``radgraph/`` there, cannot download offline, and the metric is
    unavailable in one line naming weights.radgraph, for RadCliQ-v1 too."""
    import radgraph  # noqa: F401  (pinned in requirements/dev.txt)

    s = score_reports(["no effusion"], ["small effusion"], ["radgraph", "radcliq_v1", "rouge_l"],
                      {"weights": {"radgraph": str(tmp_path)}})
    assert "rouge_l" in s.corpus
    assert "weights.radgraph" in s.unavailable["radgraph"] and "\n" not in s.unavailable["radgraph"]
    assert (tmp_path / "radgraph").is_dir()  # where the package expects the extracted model
    assert s.unavailable["radcliq_v1"].startswith("RadCliQ-v1 needs radgraph")
