"""Embedding alignment (train/embed_align.py): the loss against a hand-worked value, the IDF
targets worked by hand, and the phase on the tiny Qwen2.5-VL: it lowers its loss, moves only
the vision tower and merger, and is a pure function of the seed."""

from __future__ import annotations

import math

import pytest

from lingshu.train.embed_align import (EmbeddingAlignment, align_to_embeddings, bag_of_words_loss,
                                       caption_targets)
from lingshu.train.data.sft import IGNORE, Encoded

from _train_helpers import encoded_samples

torch = pytest.importorskip("torch")


def test_bag_of_words_loss_against_hand_worked_values():
    table = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])  # norms differ: cosine ignores them
    pooled = torch.tensor([[5.0, 5.0], [0.0, -2.0]])
    T = 0.5
    # sample 0: cosines (1/sqrt2, 1/sqrt2, -1/sqrt2); targets 0 (weight 1) and 1 (weight 3)
    a = 1 / math.sqrt(2) / T
    lse0 = math.log(2 * math.exp(a) + math.exp(-a))
    loss0 = -(1 * (a - lse0) + 3 * (a - lse0)) / 4
    # sample 1: cosines (0, -1, 0); target 2 (weight 2)
    lse1 = math.log(2 + math.exp(-1 / T))
    loss1 = -(0 - lse1)
    got = bag_of_words_loss(pooled, table, [([0, 1], [1.0, 3.0]), ([2], [2.0])], T)
    assert float(got) == pytest.approx((loss0 + loss1) / 2, rel=1e-6)
    unit = table / table.norm(dim=-1, keepdim=True)
    same = bag_of_words_loss(pooled, unit, [([0, 1], [1.0, 3.0]), ([2], [2.0])], T, unit_rows=True)
    assert float(same) == pytest.approx(float(got), rel=1e-6)


def _enc(i: int, labels: list[int], image: bool) -> Encoded:
    ids = torch.tensor([1] * (len(labels) + 2))
    lab = torch.tensor([IGNORE, IGNORE, *labels])
    return Encoded(id=f"s{i}", input_ids=ids, labels=lab, mm_token_type_ids=torch.zeros_like(ids),
                   pixel_values=torch.zeros(4, 3) if image else None,
                   image_grid_thw=torch.tensor([[1, 2, 2]]) if image else None)


def test_caption_targets_weigh_words_by_inverse_document_frequency():
    samples = [
        _enc(0, [5, 7, 9], True),   # 9 is special (end of turn)
        _enc(1, [5, 7, 8, 8], True),
        _enc(2, [5, 6], True),
        _enc(3, [5, 9], True),      # only shared and special tokens: no target
        _enc(4, [6, 7, 8], False),  # text only: not an image sample, not counted
    ]
    got = caption_targets(samples, special_ids={9})
    # 4 image samples; df: 5 -> 4 (weight log 1 = 0, dropped), 7 -> 2, 8 -> 1, 6 -> 1
    assert [(i, ids) for i, ids, _ in got] == [(0, [7]), (1, [7, 8]), (2, [6])]
    assert got[1][2] == pytest.approx([math.log(2), math.log(4)])
    assert got[2][2] == pytest.approx([math.log(4)])


def test_config_validation():
    from lingshu.train.config import SFTStageConfig

    base = dict(name="s", data=[{"path": "x.jsonl"}], max_steps=1)
    with pytest.raises(ValueError, match="embedding_alignment trains the vision tower or the merger"):
        SFTStageConfig(**base, parts={"vision": "frozen", "merger": "frozen", "llm": 1e-5},
                       embedding_alignment={"epochs": 2})
    with pytest.raises(ValueError):
        SFTStageConfig(**base, parts={"vision": 1e-3, "merger": 1e-3, "llm": "frozen"},
                       embedding_alignment={"epochs": 2, "tau": 0.1})  # mistyped key
    ok = SFTStageConfig(**base, parts={"vision": 1e-3, "merger": 1e-3, "llm": "frozen"},
                        embedding_alignment={"epochs": 2})
    assert ok.embedding_alignment.active and not EmbeddingAlignment().active


def _run(model_dir, samples, proc, epochs=6):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from lingshu.train.parts import apply_freezing

    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    lrs = {"vision": 1e-3, "merger": 1e-3, "llm": None}
    apply_freezing(model, lrs)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    summary = align_to_embeddings(model, samples, proc, EmbeddingAlignment(epochs=epochs, batch=2),
                                  lrs, seed=0)
    return model, before, summary


def test_alignment_moves_only_the_vision_side_and_lowers_its_loss(tiny_vl_dir, tmp_path):
    samples, proc = encoded_samples(tiny_vl_dir, tmp_path)
    model, before, summary = _run(tiny_vl_dir, samples, proc)
    # 3 image samples, batch 2 -> 2 steps per epoch
    assert summary["images"] == 3 and summary["steps"] == 12
    assert summary["last_loss"] < summary["first_loss"]
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all(".visual." in f".{n}" for n in moved)
    assert any(".merger." in n for n in moved) and any(".blocks." in n for n in moved)
    # requires_grad as the stage set it (the LLM stays frozen for the stage's own steps)
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".visual." not in f".{n}")
    again, _, summary2 = _run(tiny_vl_dir, samples, proc)
    assert summary2 == summary
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))
