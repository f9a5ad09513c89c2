"""Packing equivalence: a packed batch gives the same loss and gradients as the same samples
run one by one, with image samples, text-only samples and mixed packs (fp32, 1e-5), both
through the per-segment attention (``packed_attention``, the default for packed batches) and
through transformers' block-diagonal mask."""

from __future__ import annotations


import pytest

from lingshu.train.data import packed_attention
from lingshu.train.data.packing import collate_packed, collate_padded, loss_sum, pack_greedy, rope_fn_for

from _train_helpers import encoded_samples

torch = pytest.importorskip("torch")


def test_pack_greedy_fits_and_covers():
    lengths = [5, 9, 3, 7, 2, 8, 1]
    packs = pack_greedy(lengths, 10)
    assert sorted(i for p in packs for i in p) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in p) <= 10 for p in packs)
    # first-fit decreasing, worked by hand: 9+1, 8+2, 7+3, 5
    assert sorted(map(sorted, packs)) == sorted([[1, 6], [4, 5], [2, 3], [0]])


def test_pack_greedy_seeded_mixes_lengths():
    """Decreasing order fills each pack with samples of one length; when length follows the
    label ("X-ray. Answer: C" is a token longer than "CT. Answer: A"), each pack, and so each
    packed optimizer step, holds one answer. Training packs in a seeded random order."""
    lengths = [11] * 20 + [10] * 20  # label b = length 11, label a = length 10
    label = ["b"] * 20 + ["a"] * 20
    ffd = pack_greedy(lengths, 100)
    # worked by hand: 9 of 11 (99), 9 of 11 (99), 2 of 11 + 7 of 10 (92), 10 of 10, 3 of 10
    assert [len(p) for p in ffd] == [9, 9, 9, 10, 3]
    assert sum(len({label[i] for i in p}) == 1 for p in ffd) == 4
    for seed in range(5):
        packs = pack_greedy(lengths, 100, seed=seed)
        assert sorted(i for p in packs for i in p) == list(range(40))
        assert all(sum(lengths[i] for i in p) <= 100 for p in packs)
        assert len(packs) == 5  # 430 tokens: as few packs as decreasing order needs
        assert packs == pack_greedy(lengths, 100, seed=seed)  # a pure function of the seed
        # no pack of 5 or more is one label (in 20 + 20 drawn at random, that would be rare)
        assert not any(len(p) >= 5 and len({label[i] for i in p}) == 1 for p in packs), seed
    assert pack_greedy(lengths, 100, seed=0) != pack_greedy(lengths, 100, seed=1)


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.fixture(scope="module")
def setup(tiny_vl_dir, tmp_path_factory):
    from transformers import Qwen2_5_VLForConditionalGeneration

    samples, proc = encoded_samples(tiny_vl_dir, tmp_path_factory.mktemp("packing"))
    assert samples[0].image_grid_thw.tolist() != samples[2].image_grid_thw.tolist()
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_vl_dir, dtype=torch.float32)
    model.config._attn_implementation = "sdpa"
    model.train()
    return model, samples, proc.tokenizer.pad_token_id


LAYOUTS = {
    # image+text+image and text+image: mixed packs, two rows, the second with tail padding
    "mixed": [[0, 1, 2], [3, 4]],
    "text": [[1, 3]],
    "image": [[0, 2, 4]],
}


@pytest.mark.parametrize("attention", ["segments", "mask"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_packed_equals_unpacked_loss_and_gradients(setup, layout, attention, monkeypatch):
    model, samples, pad = setup
    packs = [[samples[i] for i in p] for p in LAYOUTS[layout]]

    # Reference: every sample alone, loss summed over all assistant tokens.
    model.zero_grad()
    total, n = 0.0, 0
    for s in (s for p in packs for s in p):
        loss, k = loss_sum(model, collate_padded([s], pad))
        loss.backward()
        total += loss.item()
        n += k
    ref_grads = _grads(model)

    batch = collate_packed(packs, rope_fn_for(model), pad)
    calls = []
    real = packed_attention._segments
    monkeypatch.setattr(packed_attention, "_segments", lambda p: calls.append(1) or real(p))
    if attention == "mask":
        del batch["packed"]  # transformers' block-diagonal mask from the restarting positions
    model.zero_grad()
    loss, k = loss_sum(model, batch)
    loss.backward()
    assert bool(calls) == (attention == "segments")  # the path under test really ran
    assert k == n
    assert abs(loss.item() / k - total / n) < 1e-5
    got = _grads(model)
    assert set(got) == set(ref_grads)
    # Gradients of the objective the trainer optimises (token sum / target count, sft.py), as
    # the loss above: the raw sum's gradients reach ~15 here, where fp32 summation order alone
    # moves them by a few 1e-5.
    worst = max(float((got[name] - ref_grads[name]).abs().max()) for name in got) / n
    assert worst < 1e-5, worst
    assert any(".visual." in name for name in got) == (layout != "text")  # the image path got gradients


def test_segments_split_at_restarts():
    pos = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 0, 1, 2]])
    assert packed_attention._segments(pos) == [[(0, 3), (3, 5), (5, 9)], [(0, 6), (6, 9)]]


def test_naive_packing_is_detected(setup):
    """Control: concatenating samples with ordinary (non-restarting) positions changes the
    loss, so the equality above is not vacuous."""
    model, samples, pad = setup
    with torch.no_grad():
        ref = sum(loss_sum(model, collate_padded([s], pad))[0].item() for s in samples[:2])
        batch = collate_packed([samples[:2]], rope_fn_for(model), pad)
        batch["inputs"]["position_ids"][0] = torch.arange(batch["inputs"]["input_ids"].shape[1])
        naive = loss_sum(model, batch)[0].item()
    assert abs(naive - ref) > 1e-3


def test_packed_attention_switches_only_mask_based_attention():
    """sdpa/eager are replaced for the duration and restored; flash-attention, which already
    reads the restarting positions as varlen cu_seqlens, is left alone."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1)
    model = LlamaForCausalLM(cfg)
    model.config._attn_implementation = "sdpa"
    with packed_attention.packed_attention(model) as on:
        assert on and model.config._attn_implementation == packed_attention.NAME
    assert model.config._attn_implementation == "sdpa"
    model.config._attn_implementation = "flash_attention_2"
    with packed_attention.packed_attention(model) as on:
        assert not on and model.config._attn_implementation == "flash_attention_2"
