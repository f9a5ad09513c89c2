"""The vllm backend's translation of our requests into engine calls.

A GPU engine cannot run here, so a fake ``vllm`` module that records every call stands in
for the real one (only ``LLM``, ``LLM.chat`` and ``SamplingParams`` are used).
"""

from __future__ import annotations

import base64
import sys
import types
from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image

from lingshu.core.errors import UserError
from lingshu.inference import get_backend
from lingshu.inference import GenerationParams, Request
from lingshu.models import LoadOptions, model_fingerprint_for


@dataclass
class _Completion:
    text: str
    token_ids: list[int]


@dataclass
class _Output:
    prompt_token_ids: list[int]
    outputs: list[_Completion]


@dataclass
class FakeVLLM:
    """Records LLM(**kwargs) and chat(...) calls; answers 'reply <n> END tail'."""

    engines: list[dict] = field(default_factory=list)
    chats: list[tuple[list, object]] = field(default_factory=list)
    fail_on: str | None = None

    def module(self) -> types.ModuleType:
        fake = self
        mod = types.ModuleType("vllm")

        class SamplingParams:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        class LLM:
            def __init__(self, **kwargs):
                fake.engines.append(kwargs)

            def chat(self, conversations, sampling_params=None, use_tqdm=True):
                fake.chats.append((conversations, sampling_params))
                outs = []
                for conv in conversations:
                    text = conv[-1]["content"][-1]["text"]
                    if fake.fail_on and fake.fail_on in text:
                        raise ValueError(f"prompt rejected: {text}\ndetails")
                    n = len(fake.chats)
                    outs.append(
                        _Output(
                            list(range(len(text))), [_Completion(f"reply {n} END tail", [1, 2, 3])]
                        )
                    )
                return outs

        mod.LLM, mod.SamplingParams = LLM, SamplingParams
        return mod


@pytest.fixture
def fake_vllm(monkeypatch) -> FakeVLLM:
    fake = FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake.module())
    return fake


def _req(rid, text, images=()):
    content = [{"type": "image", "image": str(p)} for p in images] + [
        {"type": "text", "text": text}
    ]
    return Request(id=rid, messages=[{"role": "user", "content": content}])


def test_missing_vllm_is_a_user_error_with_the_install_hint(monkeypatch, tiny_vl_dir):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(
        UserError, match=r"vllm is not installed: pip install 'lingshu\[vllm\]' \(GPU only\)"
    ):
        get_backend("vllm", model=str(tiny_vl_dir))


def test_engine_arguments_for_a_vision_language_model(fake_vllm, tiny_vl_dir):
    b = get_backend(
        "vllm",
        model=str(tiny_vl_dir),
        min_pixels=3136,
        max_pixels=50176,
        max_images_per_prompt=3,
        tensor_parallel_size=2,
        max_model_len=4096,
    )
    b.generate([_req("a", "hello")], GenerationParams())
    assert fake_vllm.engines == [
        dict(
            model=str(tiny_vl_dir),
            dtype="bfloat16",
            tensor_parallel_size=2,
            gpu_memory_utilization=0.9,
            seed=0,
            enforce_eager=False,
            max_model_len=4096,
            limit_mm_per_prompt={"image": 3},
            mm_processor_kwargs={"min_pixels": 3136, "max_pixels": 50176},
        )
    ]
    b.generate([_req("b", "again")], GenerationParams())
    assert len(fake_vllm.engines) == 1  # one engine for the backend's lifetime


def test_text_only_model_gets_no_multimodal_arguments(fake_vllm, tiny_text_dir):
    b = get_backend("vllm", model=str(tiny_text_dir), dtype="float16")
    b.generate([_req("a", "hello")], GenerationParams())
    assert "limit_mm_per_prompt" not in fake_vllm.engines[0]
    assert fake_vllm.engines[0]["dtype"] == "float16"
    with pytest.raises(UserError, match="min_pixels/max_pixels apply to vision-language models"):
        get_backend("vllm", model=str(tiny_text_dir), max_pixels=1000).generate(
            [_req("a", "x")], GenerationParams()
        )


def test_batch_goes_to_one_chat_call_with_sampling_params(fake_vllm, tiny_vl_dir, tmp_path):
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    params = GenerationParams(max_new_tokens=12, temperature=0.7, top_p=0.9, seed=5, stop=("END",))
    b = get_backend("vllm", model=str(tiny_vl_dir))
    responses = b.generate([_req("a", "first", (img,)), _req("b", "second")], params)
    assert len(fake_vllm.chats) == 1
    conversations, sampling = fake_vllm.chats[0]
    assert sampling.kwargs == dict(temperature=0.7, top_p=0.9, max_tokens=12, seed=5, stop=["END"])
    first = conversations[0][0]["content"]
    assert first[0]["type"] == "image_url"
    head, data = first[0]["image_url"]["url"].split(",", 1)
    assert head == "data:image/png;base64" and base64.b64decode(data) == img.read_bytes()
    assert first[1] == {"type": "text", "text": "first"}
    assert [r.text for r in responses] == ["reply 1 ", "reply 1 "]  # cut at the stop string
    assert (responses[0].prompt_tokens, responses[0].completion_tokens) == (5, 3)


def test_greedy_is_temperature_zero_and_no_stop_is_none(fake_vllm, tiny_vl_dir):
    b = get_backend("vllm", model=str(tiny_vl_dir))
    b.generate([_req("a", "x")], GenerationParams(max_new_tokens=4))
    assert fake_vllm.chats[0][1].kwargs == dict(
        temperature=0.0, top_p=1.0, max_tokens=4, seed=0, stop=None
    )


def test_bad_image_and_rejected_prompt_fail_only_their_request(fake_vllm, tiny_vl_dir, tmp_path):
    missing = tmp_path / "missing.png"
    fake_vllm.fail_on = "poison"
    b = get_backend("vllm", model=str(tiny_vl_dir))
    responses = b.generate(
        [
            _req("a", "fine"),
            _req("b", "with image", (missing,)),
            _req("c", "poison pill"),
            _req("d", "ok"),
        ],
        GenerationParams(),
    )
    assert responses[1].error == f"{missing}: image file not found"
    assert responses[2].error == "ValueError: prompt rejected: poison pill\ndetails"
    assert responses[0].error is None and responses[3].error is None
    # One batched call failed, then each conversation was retried alone.
    assert [len(c) for c, _ in fake_vllm.chats] == [3, 1, 1, 1]


def test_fingerprint_hashes_the_checkpoint_without_an_engine(fake_vllm, tiny_vl_dir):
    b = get_backend("vllm", model=str(tiny_vl_dir), max_pixels=50176)
    fp = b.fingerprint()
    hf_fp = model_fingerprint_for(str(tiny_vl_dir), LoadOptions(dtype="bfloat16", max_pixels=50176))
    assert fp == {"backend": "vllm", **hf_fp}
    assert fake_vllm.engines == []
