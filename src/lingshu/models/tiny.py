"""A tiny random Qwen2.5-VL for tests: Lingshu's architecture in seconds on a CPU.

Real checkpoints cannot be downloaded here (BRIEF §5), yet the ``hf`` backend, the chat
server and the trainers must be exercised on the real code path: Qwen2.5-VL's processor,
its image-token expansion, mRoPE positions, left-padded batches. This builds a model with
that exact architecture and the real Qwen2.5 vocabulary (so ``<|image_pad|>`` really is
151655), but a 64-wide, 2-layer language model and a 2-block vision tower. Its weights are
random, so its text is gibberish, deterministic for a given ``seed``.

The directory it writes is a standard Hugging Face checkpoint: plain
``AutoProcessor.from_pretrained`` and ``Qwen2_5_VLForConditionalGeneration.from_pretrained``
load it, as they would Lingshu-7B.
"""

from __future__ import annotations

from pathlib import Path

from lingshu.models.qwen_tokenizer import (
    QWEN2_5_VL_CHAT_TEMPLATE,
    build_qwen2_5_tokenizer,
    mark_as_qwen2_tokenizer,
)

TINY_TEXT = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,  # head_dim 16
    num_key_value_heads=2,
    # mRoPE splits head_dim / 2 = 8 rotary frequencies over (time, height, width).
    rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [2, 3, 3]},
    max_position_embeddings=4096,
    vocab_size=151_936,  # Qwen2.5-VL-3B's padded vocabulary size (>= 151,665 tokens)
    rms_norm_eps=1e-6,
    initializer_range=0.1,  # at the usual 0.02 every prompt decodes to the same token
)
TINY_VISION = dict(
    depth=2,
    hidden_size=32,
    intermediate_size=64,
    num_heads=2,
    patch_size=14,  # as the real model, so the stock image processor applies unchanged
    spatial_merge_size=2,
    temporal_patch_size=2,
    window_size=112,
    out_hidden_size=64,  # = text hidden size: the merger projects into the LLM
    fullatt_block_indexes=[1],  # must be < depth
    initializer_range=0.1,
)
TINY_MIN_PIXELS = 56 * 56
TINY_MAX_PIXELS = 28 * 28 * 64
"""At most 64 image tokens per image: enough to exercise resizing, cheap to run."""


def build_tiny_qwen2_5_vl(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a tiny random Qwen2.5-VL checkpoint (model, processor, chat template) to
    ``out_dir`` and return it. Same ``seed``, same weights."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
    )

    from lingshu.models.qwen_processor import save_qwen2_5_vl_processor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_qwen2_5_tokenizer()
    ids = {
        t: tokenizer.convert_tokens_to_ids(t)
        for t in (
            "<|image_pad|>",
            "<|video_pad|>",
            "<|vision_start|>",
            "<|vision_end|>",
            "<|endoftext|>",
            "<|im_end|>",
        )
    }
    config = Qwen2_5_VLConfig(
        text_config=dict(
            TINY_TEXT,
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(TINY_VISION),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,  # halves the file: the vocabulary dominates a tiny model
        initializer_range=0.1,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    model.save_pretrained(out)

    save_qwen2_5_vl_processor(
        out,
        tokenizer,
        vision=TINY_VISION,
        min_pixels=TINY_MIN_PIXELS,
        max_pixels=TINY_MAX_PIXELS,
        chat_template=QWEN2_5_VL_CHAT_TEMPLATE,
    )
    mark_as_qwen2_tokenizer(out)
    return out
