"""The hf backend on a tiny random Qwen2.5-VL with real images, and on a tiny text-only LM.

References are computed independently: a hand-written greedy loop over plain forward
passes, one-request-at-a-time runs, the processor's own token counts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lingshu.inference import get_backend
from lingshu.inference.backends.hf import HFBackend, HFConfig
from lingshu.inference.engine import Engine, batches
from lingshu.inference import GenerationParams, Request
from lingshu.models import LoadOptions, load_image, model_fingerprint_for

REPO = Path(__file__).resolve().parents[3]
SLAKE_JPEGS = sorted((REPO / "data" / "benchmarks" / "slake" / "imgs").glob("*/source.jpg"))
GREEDY = GenerationParams(max_new_tokens=5)


@pytest.fixture(scope="module")
def image_files(tmp_path_factory) -> list[Path]:
    """Two real SLAKE JPEGs when bundled, plus generated PNGs of different sizes."""
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    files = []
    for k, (w, h) in enumerate([(100, 80), (64, 160), (220, 140)]):
        path = d / f"gen{k}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
        files.append(path)
    if SLAKE_JPEGS:
        files += SLAKE_JPEGS[:2]
    else:
        for k in range(2):
            path = d / f"gen_jpeg{k}.jpg"
            Image.fromarray(rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)).save(path)
            files.append(path)
    return files


@pytest.fixture(scope="module")
def corrupt_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 8)
    return path


@pytest.fixture(scope="module")
def vl(tiny_vl_dir) -> HFBackend:
    return HFBackend(HFConfig(model=str(tiny_vl_dir), batch_size=3, device="cpu"))


def _image_request(rid: str, images: list[Path], text: str) -> Request:
    content = [{"type": "image", "image": str(p)} for p in images] + [
        {"type": "text", "text": text}
    ]
    return Request(id=rid, messages=[{"role": "user", "content": content}])


def _text_request(rid: str, text: str) -> Request:
    return Request(id=rid, messages=[{"role": "user", "content": [{"type": "text", "text": text}]}])


QUESTIONS = [
    "What organ is shown?",
    "Is there a nodule in the left lung?",
    "Which modality is this?",
    "Describe the abnormality.",
    "Where is the lesion located in this image?",
]


@pytest.fixture(scope="module")
def mixed_requests(image_files) -> list[Request]:
    reqs = [
        _image_request(f"img{i}", [p], QUESTIONS[i % len(QUESTIONS)])
        for i, p in enumerate(image_files)
    ]
    reqs.append(_image_request("two", image_files[:2], "Compare the two images."))
    reqs.append(_text_request("text", "A question without an image?"))
    return reqs


def _manual_greedy(lm, request: Request, n: int) -> str:
    """Greedy decoding written out: full forward pass, argmax, append; no generate()."""
    paths = [p["image"] for p in request.messages[0]["content"] if p["type"] == "image"]
    prompt = lm.processor.apply_chat_template(
        request.messages, tokenize=False, add_generation_prompt=True
    )
    enc = lm.processor(
        text=[prompt], images=[load_image(p) for p in paths] or None, return_tensors="pt"
    )
    ids, types, new = enc["input_ids"], enc["mm_token_type_ids"], []
    extra = {k: v for k, v in enc.items() if k in ("pixel_values", "image_grid_thw")}
    with torch.inference_mode():
        for _ in range(n):
            logits = lm.model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                mm_token_type_ids=types,
                use_cache=False,
                **extra,
            ).logits
            token = int(logits[0, -1].argmax())
            new.append(token)
            if token in (151645, 151643):
                break
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
            types = torch.cat([types, torch.zeros((1, 1), dtype=types.dtype)], dim=1)
    return lm.tokenizer.decode(new, skip_special_tokens=True)


# -- correctness ----------------------------------------------------------------------------


def test_batched_outputs_equal_one_request_at_a_time(vl, mixed_requests):
    batched = vl.generate(mixed_requests, GREEDY)
    single = [vl.generate([r], GREEDY)[0] for r in mixed_requests]
    assert all(r.error is None for r in batched)
    assert [r.text for r in batched] == [r.text for r in single]
    assert [(r.prompt_tokens, r.completion_tokens) for r in batched] == [
        (r.prompt_tokens, r.completion_tokens) for r in single
    ]
    assert len({r.text for r in batched}) > 1  # the outputs really depend on the input


def test_outputs_are_deterministic_across_calls_and_instances(vl, tiny_vl_dir, mixed_requests):
    first = vl.generate(mixed_requests, GREEDY)
    fresh = HFBackend(HFConfig(model=str(tiny_vl_dir), batch_size=2, device="cpu"))
    assert [r.text for r in vl.generate(mixed_requests, GREEDY)] == [r.text for r in first]
    assert [r.text for r in fresh.generate(mixed_requests, GREEDY)] == [r.text for r in first]


def test_greedy_equals_a_hand_written_argmax_loop(vl, mixed_requests):
    for request in (mixed_requests[0], mixed_requests[3], mixed_requests[-2]):
        assert vl.generate([request], GREEDY)[0].text == _manual_greedy(vl.loaded, request, 5)


def test_checkpoint_sampling_defaults_do_not_leak_into_greedy(
    tiny_vl_dir, tmp_path, mixed_requests
):
    """Checkpoints ship sampling defaults (Qwen2.5-VL: do_sample, top_k, repetition_penalty);
    greedy runs must not inherit them."""
    copy = Path(shutil.copytree(tiny_vl_dir, tmp_path / "with-defaults"))
    gen = json.loads((copy / "generation_config.json").read_text())
    gen.update(do_sample=True, temperature=5.0, top_k=0, top_p=1.0, repetition_penalty=50.0)
    (copy / "generation_config.json").write_text(json.dumps(gen))
    backend = HFBackend(HFConfig(model=str(copy), device="cpu"))
    request = mixed_requests[0]
    expected = _manual_greedy(backend.loaded, request, 5)
    assert backend.generate([request], GREEDY)[0].text == expected
    # The test can fail: the checkpoint's own defaults really change this output.
    lm = backend.loaded
    prompt = lm.processor.apply_chat_template(
        request.messages, tokenize=False, add_generation_prompt=True
    )
    enc = lm.processor(
        text=[prompt],
        images=[load_image(request.messages[0]["content"][0]["image"])],
        return_tensors="pt",
    )
    torch.manual_seed(0)
    out = lm.model.generate(**enc, max_new_tokens=5)
    assert (
        lm.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        != expected
    )


def test_prompt_token_counts_match_the_processor(vl, image_files):
    request = _image_request("r", [image_files[0]], "What organ is shown?")
    lm = vl.loaded
    prompt = lm.processor.apply_chat_template(
        request.messages, tokenize=False, add_generation_prompt=True
    )
    enc = lm.processor(text=[prompt], images=[load_image(image_files[0])], return_tensors="pt")
    response = vl.generate([request], GREEDY)[0]
    assert response.prompt_tokens == enc["input_ids"].shape[1]
    assert 1 <= response.completion_tokens <= GREEDY.max_new_tokens


def test_max_pixels_option_shrinks_the_image(tiny_vl_dir, image_files):
    """100x80 image. Default bounds: 84x112 after rounding to multiples of 28 -> 6x8 patches
    -> 12 tokens. With max_pixels 3136 the area 8000 is scaled by sqrt(8000/3136) = 1.597
    and floored to multiples of 28: 28x56 -> 2x4 patches -> 2 tokens."""
    request = _image_request("r", [image_files[0]], "What organ is shown?")
    default = HFBackend(HFConfig(model=str(tiny_vl_dir), device="cpu")).generate([request], GREEDY)[
        0
    ]
    small = HFBackend(HFConfig(model=str(tiny_vl_dir), device="cpu", max_pixels=3136)).generate(
        [request], GREEDY
    )[0]
    assert default.prompt_tokens - small.prompt_tokens == 12 - 2


def test_stop_string_cuts_the_text(vl, mixed_requests):
    request = mixed_requests[1]
    full = vl.generate([request], GenerationParams(max_new_tokens=8))[0].text
    stop = full[3:6]
    assert stop and stop.strip() == stop  # a non-trivial marker from inside the text
    cut = vl.generate([request], GenerationParams(max_new_tokens=8, stop=(stop,)))[0].text
    assert cut == full[: full.find(stop)]


def test_sampling_is_reproducible_for_a_seed(vl, mixed_requests):
    hot = GenerationParams(max_new_tokens=6, temperature=1.0, seed=7)
    a = vl.generate(mixed_requests[:3], hot)
    b = vl.generate(mixed_requests[:3], hot)
    other = vl.generate(
        mixed_requests[:3], GenerationParams(max_new_tokens=6, temperature=1.0, seed=8)
    )
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.text for r in a] != [r.text for r in other]


# -- failures ------------------------------------------------------------------------------


def test_corrupt_image_fails_only_its_own_request(vl, mixed_requests, corrupt_png):
    bad = _image_request("bad", [corrupt_png], "What is this?")
    requests = mixed_requests[:2] + [bad] + mixed_requests[2:4]
    responses = vl.generate(requests, GREEDY)
    assert responses[2].error is not None and responses[2].error.startswith(f"{corrupt_png}: ")
    assert responses[2].text == ""
    good = [r for i, r in enumerate(responses) if i != 2]
    assert all(r.error is None for r in good)
    assert [r.text for r in good] == [r.text for r in vl.generate(mixed_requests[:4], GREEDY)]


def test_missing_image_is_reported_by_name(vl, tmp_path):
    missing = tmp_path / "gone.png"
    response = vl.generate([_image_request("m", [missing], "Q?")], GREEDY)[0]
    assert response.error == f"{missing}: image file not found"


def test_a_failing_batch_is_retried_request_by_request(vl, mixed_requests, monkeypatch):
    real = Engine._decode
    culprit = vl.engine.encode(mixed_requests[1].messages).token_ids()

    def fail_with_second(self, rows):
        if any(r.job.prompt.token_ids() == culprit for r in rows):
            raise RuntimeError("device fault\nsecond line")
        return real(self, rows)

    monkeypatch.setattr(Engine, "_decode", fail_with_second)
    responses = vl.generate(mixed_requests[:3], GREEDY)
    assert responses[1].error == "RuntimeError: device fault"
    assert responses[0].error is None and responses[2].error is None


# -- fingerprint, options, batching plan ----------------------------------------------------


def test_fingerprint_needs_no_model_load(tiny_vl_dir):
    backend = get_backend("hf", model=str(tiny_vl_dir), device="cpu")
    fp = backend.fingerprint()
    assert backend._engine is None
    assert fp == {
        "backend": "hf",
        **model_fingerprint_for(str(tiny_vl_dir), LoadOptions(device="cpu")),
    }
    assert backend.preferred_batch_size() == 8


def test_batches_respect_rows_and_token_budget():
    lengths = [100, 90, 50, 40, 30, 10]
    assert batches(lengths, lengths, 4, None) == [[100, 90, 50, 40], [30, 10]]
    # Budget 200 padded tokens: 100+100 fits, a third row of width 100 would not.
    assert batches(lengths, lengths, 4, 200) == [[100, 90], [50, 40, 30, 10]]
    assert batches(lengths, lengths, 4, 10) == [[100], [90], [50], [40], [30], [10]]


# -- text-only models ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_lm(tiny_text_dir) -> HFBackend:
    return HFBackend(HFConfig(model=str(tiny_text_dir), batch_size=4, device="cpu"))


def test_text_model_batched_equals_single(text_lm):
    requests = [_text_request(str(i), q) for i, q in enumerate(QUESTIONS * 2)]
    batched = text_lm.generate(requests, GREEDY)
    single = [text_lm.generate([r], GREEDY)[0] for r in requests]
    assert text_lm.loaded.kind == "causal_lm"
    assert [r.text for r in batched] == [r.text for r in single]
    assert len({r.text for r in batched}) > 1


def test_text_model_falls_back_to_generate_when_the_lean_decoder_does_not_fit(
    tiny_text_dir, monkeypatch, caplog
):
    """A model the lean decoder cannot drive (simulated: it raises TypeError, as a model
    without a key/value cache would) is decoded by ``generate``: same greedy answers, one
    warning, and the lean decoder is not tried again."""
    from lingshu.inference import _causal_decode

    requests = [_text_request(str(i), q) for i, q in enumerate(QUESTIONS)]
    lean = HFBackend(HFConfig(model=str(tiny_text_dir), batch_size=4, device="cpu"))
    expected = [r.text for r in lean.generate(requests, GREEDY)]
    calls = []

    def unfit(*args, **kwargs):
        calls.append(1)
        raise TypeError("forward() got an unexpected keyword argument 'position_ids'")

    monkeypatch.setattr(_causal_decode, "run_causal", unfit)
    backend = HFBackend(HFConfig(model=str(tiny_text_dir), batch_size=4, device="cpu"))
    with caplog.at_level("WARNING"):
        got = backend.generate(requests, GREEDY)
    assert [r.text for r in got] == expected and all(r.error is None for r in got)
    assert len(calls) == 1  # two batches, the lean decoder tried once
    assert sum("using transformers' generate instead" in m for m in caplog.messages) == 1


def test_text_model_uses_the_chat_template(text_lm):
    request = _text_request("q", "Hello?")
    expected = text_lm.loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hello?"}], add_generation_prompt=True, return_dict=True
    )
    # Qwen format: system turn (default prompt) + user turn + assistant header.
    assert len(expected["input_ids"]) > 15
    assert text_lm.generate([request], GREEDY)[0].prompt_tokens == len(expected["input_ids"])


def test_text_model_refuses_images_per_request(text_lm, image_files):
    responses = text_lm.generate(
        [_image_request("i", [image_files[0]], "Q?"), _text_request("t", "Q?")], GREEDY
    )
    assert "model is text-only" in responses[0].error
    assert responses[1].error is None


def test_text_model_without_chat_template_gets_the_bare_text(tiny_text_dir, tmp_path):
    copy = Path(shutil.copytree(tiny_text_dir, tmp_path / "base-model"))
    (copy / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((copy / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (copy / "tokenizer_config.json").write_text(json.dumps(cfg))
    backend = HFBackend(HFConfig(model=str(copy), device="cpu"))
    response = backend.generate([_text_request("t", "Hello world")], GREEDY)[0]
    assert backend.loaded.tokenizer.chat_template is None
    assert response.error is None and response.prompt_tokens == 2  # "Hello", " world"


# -- other vision-language models (Auto classes) ---------------------------------------------


def test_other_vision_language_models_batch_through_the_auto_classes(
    tiny_llava_dir, image_files, corrupt_png, monkeypatch
):
    backend = HFBackend(HFConfig(model=str(tiny_llava_dir), batch_size=4, device="cpu"))
    requests = [
        _image_request(f"img{i}", [p], QUESTIONS[i]) for i, p in enumerate(image_files[:3])
    ] + [
        _text_request("text", "No image in this one?"),
        _image_request("bad", [corrupt_png], "Broken?"),
        _image_request("img3", [image_files[3]], QUESTIONS[3]),
    ]
    sizes = []
    real = Engine._decode
    monkeypatch.setattr(Engine, "_decode", lambda self, rows: sizes.append(len(rows)) or real(self, rows))
    batched = backend.generate(requests, GREEDY)
    assert backend.loaded.kind == "image_text_to_text"
    assert type(backend.loaded.model).__name__ == "LlavaForConditionalGeneration"
    assert sizes == [4, 1]  # mixed image / no-image rows ran as one batch, no fallback
    assert batched[4].error.startswith(f"{corrupt_png}: ")
    single = [backend.generate([r], GREEDY)[0] for r in requests]
    assert [r.text for r in batched] == [r.text for r in single]
    assert all(r.error is None for i, r in enumerate(batched) if i != 4)
    # 4 image tokens per image: (28 / 14)^2 patches of the 28x28 crop.
    lm = backend.loaded
    prompt = lm.processor.apply_chat_template(
        requests[0].messages, tokenize=False, add_generation_prompt=True
    )
    n_text = len(lm.tokenizer(prompt, add_special_tokens=False).input_ids)
    assert batched[0].prompt_tokens == n_text - 1 + 4  # "<image>" expands to 4 tokens


def test_an_answer_budget_beyond_the_models_context_is_refused(vl):
    """Issue 22: a budget no answer can reach is a one-line error, not a silent cut."""
    from lingshu.core.errors import UserError

    context = vl.engine.context_length
    request = [_text_request("q", QUESTIONS[0])]
    with pytest.raises(UserError, match=f"more than the model's context of {context} tokens"):
        vl.generate(request, GenerationParams(max_new_tokens=context + 1))
    # control: a budget within the context answers
    (answer,) = vl.generate(request, GenerationParams(max_new_tokens=4))
    assert answer.error is None and answer.completion_tokens <= 4
