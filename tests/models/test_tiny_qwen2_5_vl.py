"""The tiny random Qwen2.5-VL: the real architecture and vocabulary, loadable by plain
transformers, deterministic per seed, lossless through save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from lingshu.models import build_tiny_qwen2_5_vl


@pytest.fixture(scope="module")
def loaded(tiny_vl_dir):
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_vl_dir)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_vl_dir).eval()
    return processor, model


def _inputs(processor, size=(100, 80), text="What organ is this?"):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    )
    return processor(text=[prompt], images=[image], return_tensors="pt")


def test_config_matches_the_requested_shape_and_published_ids(tiny_vl_dir):
    cfg = json.loads((tiny_vl_dir / "config.json").read_text())
    text, vision = cfg["text_config"], cfg["vision_config"]
    assert cfg["model_type"] == "qwen2_5_vl"
    assert (cfg["image_token_id"], cfg["video_token_id"]) == (151655, 151656)
    assert (cfg["vision_start_token_id"], cfg["vision_end_token_id"]) == (151652, 151653)
    assert text["hidden_size"] == 64 and text["num_hidden_layers"] == 2
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
    assert vision["depth"] == 2 and vision["out_hidden_size"] == text["hidden_size"]
    assert all(i < vision["depth"] for i in vision["fullatt_block_indexes"])
    gen = json.loads((tiny_vl_dir / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [151645, 151643] and gen["pad_token_id"] == 151643


def test_plain_transformers_loads_processor_and_expands_image_tokens(loaded):
    processor, _ = loaded
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert type(processor.tokenizer).__name__ == "Qwen2Tokenizer"
    enc = _inputs(processor, size=(100, 80))
    # Hand-worked resize: each side rounds to a multiple of 28 (patch 14 x merge 2):
    # 80 -> 84, 100 -> 112; area 9408 lies within [3136, 50176]. Grid = 84/14 x 112/14 = 6 x 8
    # patches; 2x2 merging gives 12 image tokens.
    assert enc["image_grid_thw"].tolist() == [[1, 6, 8]]
    ids = enc["input_ids"][0].tolist()
    assert ids.count(151655) == 12
    start = ids.index(151652)
    assert ids[start + 1 : start + 13] == [151655] * 12 and ids[start + 13] == 151653


def test_generates_with_an_image(loaded):
    processor, model = loaded
    enc = _inputs(processor)
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 4


def test_outputs_depend_on_the_image(loaded):
    processor, model = loaded
    with torch.inference_mode():
        a = model(**_inputs(processor, size=(100, 80))).logits[0, -1]
        b = model(**_inputs(processor, size=(60, 120))).logits[0, -1]
    assert not torch.allclose(a, b)


def test_same_seed_gives_the_same_weights(tiny_vl_dir, tmp_path):
    again = build_tiny_qwen2_5_vl(tmp_path / "again", seed=0)
    first = load_file(tiny_vl_dir / "model.safetensors")
    second = load_file(again / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_save_and_reload_round_trip_keeps_the_logits(loaded, tmp_path):
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    processor, model = loaded
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    model2 = Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp_path).eval()
    processor2 = AutoProcessor.from_pretrained(tmp_path)
    enc, enc2 = _inputs(processor), _inputs(processor2)
    assert torch.equal(enc["input_ids"], enc2["input_ids"])
    with torch.inference_mode():
        assert torch.equal(model(**enc).logits, model2(**enc2).logits)
