"""``loss_sum`` projects to the vocabulary only at target positions; the loss and gradients
must equal cross-entropy over the full (batch, length, vocab) logits, computed here
independently, on padded and packed batches of the tiny Qwen2.5-VL, under a LoRA wrapper,
on a plain causal LM, and through the full-logits fallback (fp32, 1e-6)."""

from __future__ import annotations

import pytest

from lingshu.train.data import packing
from lingshu.train.data.packing import collate_packed, collate_padded, loss_sum, rope_fn_for
from lingshu.train.data.sft import IGNORE

from _train_helpers import encoded_samples

torch = pytest.importorskip("torch")
TOL = 1e-6


def _reference(model, batch):
    """Full logits, shift already in the targets, token sum. Packed batches attend the same
    way as in ``loss_sum`` (per segment), so only the head differs."""
    import contextlib

    from lingshu.train.data.packed_attention import packed_attention

    with packed_attention(model) if batch.get("packed") else contextlib.nullcontext():
        logits = model(**batch["inputs"], use_cache=False).logits
    assert logits.ndim == 3
    tgt = batch["targets"]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), tgt.reshape(-1), ignore_index=IGNORE, reduction="sum"
    ), int((tgt != IGNORE).sum())


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _compare(model, batch, wrapped=None):
    run = wrapped if wrapped is not None else model
    model.zero_grad()
    ref, n_ref = _reference(run, batch)
    ref.backward()
    g_ref = _grads(model)
    model.zero_grad()
    got, n = loss_sum(run, batch)
    got.backward()
    g = _grads(model)
    assert n == n_ref > 0
    assert abs(got.item() - ref.item()) <= TOL * max(1.0, abs(ref.item()))
    assert set(g) == set(g_ref) and g
    worst = max(float((g[k] - g_ref[k]).abs().max()) for k in g)
    assert worst < TOL, worst


@pytest.fixture(scope="module")
def vl(tiny_vl_dir, tmp_path_factory):
    from transformers import Qwen2_5_VLForConditionalGeneration

    samples, proc = encoded_samples(tiny_vl_dir, tmp_path_factory.mktemp("loss_sum"), n=3)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_vl_dir, dtype=torch.float32)
    model.config._attn_implementation = "sdpa"
    model.train()
    return model, samples, proc.tokenizer.pad_token_id


def test_target_only_head_is_used_and_matches_padded(vl):
    model, samples, pad = vl
    batch = collate_padded(samples, pad)
    seen = []
    h = model.lm_head.register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape)))
    try:
        _, n = loss_sum(model, batch)
    finally:
        h.remove()
    assert seen == [(n, model.config.text_config.hidden_size)]  # the head saw the target rows only
    _compare(model, batch)


def test_target_only_head_matches_packed(vl):
    model, samples, pad = vl
    _compare(model, collate_packed([[samples[0], samples[1]], [samples[2]]], rope_fn_for(model), pad))


def test_lora_wrapped(vl):
    from peft import LoraConfig, get_peft_model

    model, samples, pad = vl
    import copy

    peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    assert packing._takes_logits_to_keep(peft_model)
    # LoRA B starts at zero; make it non-zero so the adapter path really matters.
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    _compare(peft_model, collate_padded(samples[:2], pad))


class _NoKeep(torch.nn.Module):
    """A wrapper whose forward does not accept ``logits_to_keep``: the fallback path."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids=None, position_ids=None, attention_mask=None, mm_token_type_ids=None,
                pixel_values=None, image_grid_thw=None, use_cache=False):
        return self.inner(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask,
                          mm_token_type_ids=mm_token_type_ids, pixel_values=pixel_values,
                          image_grid_thw=image_grid_thw, use_cache=use_cache)


def test_fallback_without_logits_to_keep(vl):
    model, samples, pad = vl
    wrapped = _NoKeep(model)
    assert not packing._takes_logits_to_keep(wrapped)
    _compare(model, collate_padded(samples, pad), wrapped=wrapped)


def test_plain_causal_lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=211, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    model = LlamaForCausalLM(cfg).float().train()
    ids = torch.randint(3, 211, (2, 17))
    att = torch.ones_like(ids)
    att[1, 12:] = 0
    tgt = torch.full_like(ids, IGNORE)
    tgt[0, 5:16] = ids[0, 6:17]
    tgt[1, 3:11] = ids[1, 4:12]
    _compare(model, {"inputs": {"input_ids": ids, "attention_mask": att}, "targets": tgt})
