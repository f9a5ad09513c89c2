"""Session-wide test models, built once into pytest's base temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingshu.models import build_tiny_qwen2_5_vl, ensure_smollm2_dir


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.getbasetemp() / "tiny-qwen2_5_vl"
    if not (out / "model.safetensors").is_file():
        build_tiny_qwen2_5_vl(out, seed=0)
    return out


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    return ensure_smollm2_dir(tmp_path_factory.getbasetemp() / "lingshu-models")


@pytest.fixture(scope="session")
def tiny_text_dir(tiny_vl_dir, tmp_path_factory) -> Path:
    """A tiny random Llama causal LM with the Qwen2.5 vocabulary and chat template: the
    text-only path of the hf backend in a second."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.getbasetemp() / "tiny-text-lm"
    if (out / "model.safetensors").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(tiny_vl_dir)
    config = LlamaConfig(
        vocab_size=151_936,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=151643,
        eos_token_id=151645,
        pad_token_id=151643,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
