"""The generation engine against plain transformers: same answers alone and in batches,
streaming that adds up, per-row stops, usage counts, seeds, cancellation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from lingshu.inference import Engine as GenerationEngine
from lingshu.inference import PromptError, GenerationParams

pytestmark = pytest.mark.slow


def random_image(seed: int, width: int = 96, height: int = 72) -> Image.Image:
    rng = np.random.RandomState(seed)
    return Image.fromarray((rng.rand(height, width, 3) * 255).astype(np.uint8))


def reference_generate(loaded, messages, max_new_tokens):
    """Greedy answer of ``model.generate`` on one conversation, without the engine."""
    proc = loaded.processor
    templated, images = [], []
    for m in messages:
        if isinstance(m["content"], str):
            templated.append(m)
            continue
        parts = []
        for p in m["content"]:
            if p["type"] == "image":
                images.append(p["image"])
                parts.append({"type": "image"})
            else:
                parts.append(p)
        templated.append({"role": m["role"], "content": parts})
    text = proc.apply_chat_template(templated, add_generation_prompt=True, tokenize=False)
    enc = proc(text=[text], images=images or None, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[0, enc["input_ids"].shape[1] :].tolist()
    eos = {151645, 151643}
    completion = []
    for t in new:
        completion.append(t)
        if t in eos:
            break
    return (
        # A character torn by max_tokens decodes to U+FFFD; the engine drops it.
        proc.tokenizer.decode(completion, skip_special_tokens=True).rstrip("\ufffd"),
        int(enc["input_ids"].shape[1]),
        len(completion),
    )


def user(question, *images):
    parts = [{"type": "image", "image": im} for im in images]
    parts.append({"type": "text", "text": question})
    return [{"role": "user", "content": parts}]


CONVERSATIONS = [
    user("What does this chest X-ray show?", random_image(1)),
    user("Is there a fracture?"),
    user("Compare the two images.", random_image(2, 64, 64), random_image(3, 120, 80)),
    user("Describe the fundus photograph in detail, please.", random_image(4, 150, 100)),
    [
        {"role": "system", "content": [{"type": "text", "text": "You are a radiologist."}]},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": [{"type": "text", "text": "Any nodules?"}]},
    ],
]


@pytest.fixture(scope="module")
def references(tiny_loaded):
    return [reference_generate(tiny_loaded, c, 10) for c in CONVERSATIONS]


def test_alone_equals_plain_transformers(engine, references):
    for conv, (text, n_prompt, n_completion) in zip(CONVERSATIONS, references):
        result = engine.generate(conv, GenerationParams.from_client(max_new_tokens=10))
        assert result.text == text
        assert result.prompt_tokens == n_prompt
        assert result.completion_tokens == n_completion
        assert result.finish_reason == ("stop" if n_completion < 10 else "length")
    # The conversations really differ for this model, so a mix-up would be visible.
    assert len({t for t, _, _ in references}) == len(references)


def test_batched_answers_equal_alone_answers(tiny_loaded, references):
    with GenerationEngine(tiny_loaded, max_batch_size=8, batch_wait_s=0.5) as eng:
        handles = [eng.submit(c, GenerationParams.from_client(max_new_tokens=10)) for c in CONVERSATIONS]
        results = [h.result(timeout=120) for h in handles]
        assert eng.stats.max_batch_size == len(CONVERSATIONS)  # one batch held them all
    assert [r.text for r in results] == [t for t, _, _ in references]
    assert [r.prompt_tokens for r in results] == [p for _, p, _ in references]


def test_rows_stop_on_their_own_max_tokens(tiny_loaded, references):
    limits = [3, 10, 1, 7, 5]
    with GenerationEngine(tiny_loaded, max_batch_size=8, batch_wait_s=0.5) as eng:
        handles = [
            eng.submit(c, GenerationParams.from_client(max_new_tokens=n)) for c, n in zip(CONVERSATIONS, limits)
        ]
        results = [h.result(timeout=120) for h in handles]
    for conv, n, r in zip(CONVERSATIONS, limits, results):
        text, _, n_completion = reference_generate(tiny_loaded, conv, n)
        assert r.text == text
        assert r.completion_tokens == n_completion <= n


def test_stream_pieces_add_up_to_the_result(engine, references):
    handle = engine.submit(CONVERSATIONS[0], GenerationParams.from_client(max_new_tokens=10))
    pieces = list(handle.stream())
    assert len(pieces) > 1
    assert "".join(pieces) == handle.result().text == references[0][0]


def test_stop_sequence_cuts_the_answer(engine, references):
    full = references[3][0]
    stop = full[len(full) // 2 : len(full) // 2 + 2]  # two characters from the middle
    assert stop.strip()
    expected = full[: full.find(stop)]
    handle = engine.submit(CONVERSATIONS[3], GenerationParams.from_client(max_new_tokens=10, stop=(stop,)))
    pieces = list(handle.stream())
    result = handle.result()
    assert result.text == expected and result.finish_reason == "stop"
    assert "".join(pieces) == expected


def test_seeded_sampling_is_reproducible(engine):
    conv = CONVERSATIONS[1]
    a = engine.generate(conv, GenerationParams.from_client(max_new_tokens=8, temperature=1.0, seed=7))
    b = engine.generate(conv, GenerationParams.from_client(max_new_tokens=8, temperature=1.0, seed=7))
    c = engine.generate(conv, GenerationParams.from_client(max_new_tokens=8, temperature=1.0, seed=8))
    assert a.text == b.text
    assert a.text != c.text  # 151k-token vocabulary at temperature 1: collisions are negligible


def test_seeded_requests_are_not_batched_with_others_under_one_random_stream():
    keys = {
        GenerationParams.from_client(temperature=0.0, seed=3).batch_key(False),
        GenerationParams.from_client(temperature=0.7).batch_key(False),
        GenerationParams.from_client(temperature=0.7, top_p=0.9).batch_key(False),
    }
    assert len(keys) == 3
    assert GenerationParams.from_client(temperature=0.7, seed=1).batch_key(False) is None
    # The fast decoder gives each row its own generator: seeded rows batch together.
    assert GenerationParams.from_client(temperature=0.7, seed=1).batch_key(True) == GenerationParams.from_client(
        temperature=0.7, seed=2
    ).batch_key(True)
    assert (
        GenerationParams.from_client(temperature=0.0).batch_key(False)
        == GenerationParams.from_client(top_p=0.0, temperature=1).batch_key(False)
    )


def test_cancel_stops_a_running_request(engine):
    started = threading.Event()

    def on_event(ev):
        if ev.kind == "delta":
            started.set()

    handle = engine.submit(CONVERSATIONS[0], GenerationParams.from_client(max_new_tokens=4000), listener=on_event)
    assert started.wait(60)
    handle.cancel()
    result = handle.result(timeout=60)
    assert result.finish_reason == "cancelled"
    assert result.completion_tokens < 4000


def test_prompt_longer_than_the_context_is_refused(engine):
    long_question = "word " * 5000  # the tiny model's context is 4096 positions
    with pytest.raises(PromptError, match="context"):
        engine.submit(user(long_question), GenerationParams.from_client(max_new_tokens=4))


def test_max_tokens_is_capped_to_the_context_left(engine):
    question = "word " * 4000
    result = engine.generate(user(question), GenerationParams.from_client(max_new_tokens=1000))
    assert result.prompt_tokens + result.completion_tokens <= engine.context_length


def test_text_only_model(tmp_path):
    """A causal LM (no processor, string content) goes through the same engine."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from lingshu.models import LoadOptions, load_model
    from lingshu.models.qwen_tokenizer import build_qwen2_5_tokenizer

    tok = build_qwen2_5_tokenizer()
    tok.save_pretrained(tmp_path)
    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=151936,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        eos_token_id=151645,
        pad_token_id=151643,
        initializer_range=0.2,
    )
    Qwen2ForCausalLM(cfg).save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path), LoadOptions(device="cpu"))
    assert loaded.kind == "causal_lm"
    convs = [
        [{"role": "user", "content": [{"type": "text", "text": q}]}]
        for q in ("Hi", "What is a CT scan?")
    ]
    expected = []
    for conv in convs:
        ids = tok.apply_chat_template(
            [{"role": "user", "content": conv[0]["content"][0]["text"]}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        out = loaded.model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=151643)
        text = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        expected.append(text.rstrip("\ufffd"))  # the engine drops a character torn by max_tokens
    with GenerationEngine(loaded, max_batch_size=4, batch_wait_s=0.5) as eng:
        handles = [eng.submit(c, GenerationParams.from_client(max_new_tokens=6)) for c in convs]
        assert [h.result(timeout=60).text for h in handles] == expected
        with pytest.raises(PromptError, match="text-only"):
            eng.submit(user("What is this?", random_image(0)), GenerationParams.from_client(max_new_tokens=2))
