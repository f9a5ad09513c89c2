"""Helpers for GRPO tests: a character-level toy language model and RL rows.

Why a toy tokenizer: the tiny Qwen2.5-VL has the real 151,936-token vocabulary, so its
random policy is close to uniform over it and no reward that a few dozen CPU steps can
move has a usable success rate. A 30-symbol vocabulary makes "emit the letter B" a task
the policy starts at ~1/30 and learns in a few dozen steps, on the same trainer path.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
CHARS = list("ABCDEabcde .?\n") + list("01234")
TAGS = ["<answer>", "</answer>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for p in m['content'] %}{% if p['type'] == 'text' %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_char_model(out: Path, seed: int = 0) -> Path:
    """A 2-layer Qwen2 causal LM over a character vocabulary (saved as an HF folder)."""
    import torch
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    vocab = {t: i for i, t in enumerate(SPECIAL + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens([AddedToken(t, special=True) for t in SPECIAL])
    tok.add_tokens([AddedToken(t, special=False) for t in TAGS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        bos_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    ids = {t: fast.convert_tokens_to_ids(t) for t in SPECIAL}
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=ids["<|im_start|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<pad>"],
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<pad>"]
    )
    model.save_pretrained(out)
    return out


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def qa_row(i: int, **extra) -> dict:
    """A CONTRACTS.md point 2 RL row (text only unless ``image`` is given)."""
    content = []
    if "image" in extra:
        content.append({"type": "image", "image": extra.pop("image")})
    content.append({"type": "text", "text": extra.pop("question", f"Q{i}?")})
    row = {
        "id": f"q{i}",
        "messages": [{"role": "user", "content": content}],
        "answer": "B",
        "question_type": "mcq",
        "options": {"A": "a", "B": "b", "C": "c"},
        "modality": "CT",
    }
    row.update(extra)
    return row
