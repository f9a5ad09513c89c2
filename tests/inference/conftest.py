"""Session-wide test models, built once into pytest's base temp folder, and an engine over
the tiny Qwen2.5-VL."""

from __future__ import annotations

from pathlib import Path

import pytest



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


LLAVA_TEMPLATE = (
    "{%- for m in messages -%}{{- m['role'] | upper + ': ' -}}"
    "{%- if m['content'] is string -%}{{- m['content'] -}}{%- else -%}"
    "{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}{{- '<image>\\n' -}}"
    "{%- elif p['type'] == 'text' -%}{{- p['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}{{- '\\n' -}}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- 'ASSISTANT:' -}}{%- endif -%}"
)


@pytest.fixture(scope="session")
def tiny_llava_dir(tiny_vl_dir, tmp_path_factory) -> Path:
    """A tiny random LLaVA (CLIP vision tower + Llama): a vision-language model that is not
    Qwen2.5-VL, loaded through the Auto classes ("image_text_to_text")."""
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    out = tmp_path_factory.getbasetemp() / "tiny-llava"
    if (out / "model.safetensors").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(tiny_vl_dir)
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
            projection_dim=32,
        ).to_dict(),
        text_config=LlamaConfig(
            vocab_size=151_936,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            initializer_range=0.2,
            bos_token_id=151643,
            eos_token_id=151645,
            pad_token_id=151643,
        ).to_dict(),
        image_token_index=image_token_id,
        image_seq_length=4,  # (28 / 14)^2 patches, CLS dropped ("default" strategy)
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(out)
    LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}
        ),
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        chat_template=LLAVA_TEMPLATE,
    ).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_loaded(tiny_vl_dir):
    """The tiny Qwen2.5-VL, loaded once on the CPU."""
    from lingshu.models import LoadOptions, load_model

    return load_model(str(tiny_vl_dir), LoadOptions(device="cpu"))


@pytest.fixture(scope="session")
def engine(tiny_loaded):
    from lingshu.inference import Engine

    eng = Engine(tiny_loaded, max_batch_size=8, batch_wait_s=0.02)
    yield eng
    eng.close()
