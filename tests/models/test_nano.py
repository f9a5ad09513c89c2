"""Lingshu-Nano: Qwen2.5-VL architecture, SmolLM2-135M-Instruct's language model.

The reference is SmolLM2 itself, loaded by plain transformers as ``LlamaForCausalLM``:
on text, Nano must produce the same logits and the same greedy continuations.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lingshu.models import load_model, resolve_model_dir
from lingshu.models.nano import NANO_ALIAS, VISION_TOKENS, build_nano

pytestmark = pytest.mark.slow

SMOL_VOCAB = 49152
PROMPTS = [
    "What is the capital of France?",
    "List three symptoms of pneumonia.",
    "Explain what a CT scan is in one sentence.",
]


@pytest.fixture(scope="session")
def nano_dir(tmp_path_factory, smollm2_dir) -> Path:
    out = tmp_path_factory.getbasetemp() / "lingshu-models" / NANO_ALIAS
    if not (out / "lingshu_source.json").is_file():
        build_nano(out, seed=0, smollm2_dir=smollm2_dir)
    return out


@pytest.fixture(scope="session")
def nano(nano_dir):
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(nano_dir)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(nano_dir, dtype=torch.float32)
    return processor, model.eval()


@pytest.fixture(scope="session")
def smol(smollm2_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    return tokenizer, model.eval()


def test_config_and_special_tokens(nano, smollm2_dir):
    processor, model = nano
    smol_config = json.loads((smollm2_dir / "config.json").read_text())
    text = model.config.text_config
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "max_position_embeddings"):
        assert getattr(text, key) == smol_config[key], key
    assert text.rope_parameters["rope_theta"] == smol_config["rope_parameters"]["rope_theta"]
    assert sum(text.rope_parameters["mrope_section"]) == smol_config["head_dim"] // 2
    assert model.config.vision_config.out_hidden_size == 576
    # The new tokens follow SmolLM2's 49,152 in Qwen's order.
    tok = processor.tokenizer
    assert [tok.convert_tokens_to_ids(t) for t in VISION_TOKENS] == list(
        range(SMOL_VOCAB, SMOL_VOCAB + len(VISION_TOKENS))
    )
    assert model.config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>") == 49161
    assert model.config.video_token_id == 49162
    assert model.config.vision_start_token_id == 49158
    assert model.config.vision_end_token_id == 49159
    assert text.vocab_size == len(tok) == SMOL_VOCAB + 11
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    biases = [p for n, p in model.named_parameters() if "language_model" in n and n.endswith("bias")]
    assert biases and all(torch.count_nonzero(b) == 0 for b in biases)


def test_text_only_logits_and_greedy_equal_smollm2(nano, smol):
    processor, model = nano
    smol_tok, smol_model = smol
    for prompt in PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        expected_text = smol_tok.apply_chat_template(messages, add_generation_prompt=True,
                                                     tokenize=False)
        as_parts = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
        assert processor.apply_chat_template(messages, add_generation_prompt=True) == expected_text
        assert processor.apply_chat_template(as_parts, add_generation_prompt=True) == expected_text
        ids = smol_tok(expected_text, return_tensors="pt").input_ids
        assert torch.equal(processor.tokenizer(expected_text, return_tensors="pt").input_ids, ids)
        with torch.no_grad():
            ref = smol_model(ids).logits
            got = model(input_ids=ids).logits
        assert got.shape[-1] == SMOL_VOCAB + 11
        assert (got[..., :SMOL_VOCAB] - ref).abs().max().item() < 1e-5
        assert torch.equal(got.argmax(-1), ref.argmax(-1))
        ref_gen = smol_model.generate(ids, max_new_tokens=12, do_sample=False)
        got_gen = model.generate(input_ids=ids, max_new_tokens=12, do_sample=False)
        assert torch.equal(got_gen, ref_gen), prompt


def test_image_prompt_forward_and_generate(nano):
    processor, model = nano
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (90, 130, 3), dtype=np.uint8))
    messages = [{"role": "user", "content": [
        {"type": "image", "image": image}, {"type": "text", "text": "Describe the image."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert "<|vision_start|><|image_pad|><|vision_end|>Describe the image." in text
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    t, h, w = inputs["image_grid_thw"][0].tolist()
    n_image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert n_image_tokens == t * h * w // 4 > 0  # 2x2 patches merged into one token
    with torch.no_grad():
        logits = model(**inputs).logits
    assert torch.isfinite(logits).all()
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_loads_through_lingshu_and_alias(nano_dir, monkeypatch):
    loaded = load_model(str(nano_dir))
    assert loaded.kind == "qwen2_5_vl" and loaded.device == "cpu" and loaded.dtype == "float32"
    monkeypatch.setenv("LINGSHU_MODELS", str(nano_dir.parent))
    assert resolve_model_dir(NANO_ALIAS) == nano_dir  # found, not rebuilt


def test_build_refuses_unrelated_nonempty_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    from lingshu.core.errors import UserError

    with pytest.raises(UserError, match="not empty"):
        build_nano(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
