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


def _first_fit_scan(lengths, max_length, order):
    """The reference: the quadratic scan pack_greedy used before issue 19 (each sample into
    the first open pack with room, else a new pack)."""
    bins, room = [], []
    for i in order:
        for b, r in enumerate(room):
            if lengths[i] <= r:
                bins[b].append(i)
                room[b] -= lengths[i]
                break
        else:
            bins.append([i])
            room.append(max_length - lengths[i])
    return [sorted(b) for b in bins]


@pytest.mark.parametrize("n,max_length,top", [(4000, 64, 40), (2500, 1024, 1100), (400, 16, 16)])
def test_pack_greedy_equals_the_first_fit_scan(n, max_length, top):
    """The O(n log n) tree gives exactly the scan's packs: seeded and decreasing orders, more
    packs than its first 1024 leaves (it grows), samples longer than a pack (alone)."""
    import random

    rng = random.Random(n)
    lengths = [rng.randint(1, top) for _ in range(n)]
    ffd = sorted(range(n), key=lambda i: (-lengths[i], i))
    assert pack_greedy(lengths, max_length) == _first_fit_scan(lengths, max_length, ffd)
    for seed in (0, 7):
        order = random.Random(f"pack:{seed}").sample(range(n), n)
        packs = pack_greedy(lengths, max_length, seed=seed)
        assert packs == _first_fit_scan(lengths, max_length, order)
    if max_length == 64:
        assert len(packs) > 1024  # this case crosses the tree's growth


def test_pack_greedy_hand_worked_first_fit():
    # decreasing order: 12 alone in pack0 (longer than a pack), 6 -> pack1 (room 4),
    # 5 -> pack2 (room 5), 4 -> pack1 (0), 3 -> pack2 (2), 2 -> pack2 (0)
    assert pack_greedy([12, 6, 5, 4, 3, 2], 10) == [[0], [1, 3], [2, 4, 5]]


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
