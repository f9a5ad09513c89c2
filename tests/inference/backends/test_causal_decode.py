"""The lean text-only decoder: same tokens as ``model.generate`` on each prompt alone, with
the shared prefix computed once and finished rows dropped."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lingshu.inference import _causal_decode
from lingshu.inference._causal_decode import (
    MIN_SHARED_PREFIX,
    _full_attention_only,
    _next_tokens,
    common_prefix_length,
    decode_causal,
)
from lingshu.inference import GenerationParams

QUESTIONS = [
    "Which organ produces insulin?",
    "Is there a fracture of the left femur in this report?",
    "Name the largest artery.",
    "What does an elevated troponin level suggest after chest pain lasting two hours?",
    "Define tachycardia.",
]


@pytest.fixture(scope="module")
def text_model(tiny_text_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_text_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_text_dir).eval()
    rows = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], add_generation_prompt=True, return_dict=True
        )["input_ids"]
        for q in QUESTIONS
    ]
    return tokenizer, model, rows


def _generate_alone(model, row, n):
    """The reference: transformers' own greedy generate on one unpadded prompt."""
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([row]), attention_mask=torch.ones(1, len(row), dtype=torch.long),
            max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=0,
        )
    return out[0, len(row):].tolist()


def _decode(model, rows, n, eos=frozenset(), **kw):
    with torch.inference_mode():
        return decode_causal(model, rows, GenerationParams(max_new_tokens=n, **kw),
                             eos_ids=set(eos), pad_id=151643)


def test_common_prefix_length():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4]]) == 2
    assert common_prefix_length([[1, 2], [1, 2, 3]]) == 1  # each row keeps a token of its own
    assert common_prefix_length([[5, 6, 7], [5, 6, 7]]) == 2
    assert common_prefix_length([[1, 2], [3, 2]]) == 0


def test_batch_equals_generate_on_each_prompt_alone(text_model):
    _, model, rows = text_model
    assert common_prefix_length(rows) >= MIN_SHARED_PREFIX  # the system turn is shared
    assert len({len(r) for r in rows}) > 1  # padding really happens
    got = _decode(model, rows, 6)
    assert got == [_generate_alone(model, r, 6) for r in rows]


@pytest.mark.parametrize("prefill_rows", [1, 2, 3])
def test_groups_prefilled_apart_and_merged_decode_as_each_prompt_alone(text_model, prefill_rows):
    """Prompts prefilled in groups of different widths, merged into one decoding batch
    (extra padding inserted after the shared prefix), still give generate's tokens."""
    _, model, rows = text_model
    with torch.inference_mode():
        got = decode_causal(model, rows, GenerationParams(max_new_tokens=6), eos_ids=set(),
                            pad_id=151643, prefill_rows=prefill_rows)
    assert got == [_generate_alone(model, r, 6) for r in rows]


def test_merging_without_a_shared_prefix(text_model, monkeypatch):
    _, model, rows = text_model
    monkeypatch.setattr(_causal_decode, "MIN_SHARED_PREFIX", 10_000)
    with torch.inference_mode():
        got = decode_causal(model, rows, GenerationParams(max_new_tokens=6), eos_ids=set(),
                            pad_id=151643, prefill_rows=2)
    assert got == [_generate_alone(model, r, 6) for r in rows]


def test_sharing_the_prefix_does_not_change_tokens(text_model, monkeypatch):
    _, model, rows = text_model
    shared = _decode(model, rows, 6)
    monkeypatch.setattr(_causal_decode, "MIN_SHARED_PREFIX", 10_000)
    assert _decode(model, rows, 6) == shared


def test_finished_rows_leave_and_the_others_are_unaffected(text_model):
    _, model, rows = text_model
    free = _decode(model, rows, 8)
    stop_token = free[0][2]  # make row 0 finish at its third token
    got = _decode(model, rows, 8, eos={stop_token})
    for full, cut in zip(free, got, strict=True):
        end = full.index(stop_token) + 1 if stop_token in full else len(full)
        assert cut == full[:end]
    assert len(got[0]) == free[0].index(stop_token) + 1 <= 3


def test_stop_callback_ends_a_row(text_model):
    _, model, rows = text_model
    with torch.inference_mode():
        got = decode_causal(model, rows, GenerationParams(max_new_tokens=8), eos_ids=set(),
                            pad_id=0, stopped=lambda toks: len(toks) >= 2)
    assert [len(g) for g in got] == [2] * len(rows)


def test_sampling_is_seeded_and_respects_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]])).repeat(400, 1)
    gen = lambda seed: torch.Generator().manual_seed(seed)
    params = GenerationParams(temperature=1.0, top_p=0.6)
    a = _next_tokens(logits, params, gen(1))
    assert torch.equal(a, _next_tokens(logits, params, gen(1)))
    assert not torch.equal(a, _next_tokens(logits, params, gen(2)))
    # top_p 0.6: tokens 0 (0.5) and 1 (0.3) make the nucleus; token 2 is never drawn.
    assert set(a.tolist()) == {0, 1}
    everything = _next_tokens(logits, GenerationParams(temperature=1.0), gen(3))
    assert set(everything.tolist()) == {0, 1, 2}
    assert torch.equal(_next_tokens(logits[:1], GenerationParams(), None), torch.tensor([0]))


def test_sampled_batches_are_reproducible(text_model):
    _, model, rows = text_model
    first = _decode(model, rows, 5, temperature=1.0, seed=4)
    assert _decode(model, rows, 5, temperature=1.0, seed=4) == first
    assert _decode(model, rows, 5, temperature=1.0, seed=5) != first


def test_sliding_window_models_do_not_share_prefixes():
    full = SimpleNamespace(config=SimpleNamespace(sliding_window=None, layer_types=["full_attention"]))
    sliding = SimpleNamespace(config=SimpleNamespace(
        sliding_window=512, layer_types=["sliding_attention", "full_attention"]
    ))
    assert _full_attention_only(full) and not _full_attention_only(sliding)
