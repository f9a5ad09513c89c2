"""SmolLM2-135M-Instruct (the embedded default model) through the hf backend on real
MedMCQA questions: batched greedy equals one-at-a-time greedy and equals MedEvalKit's
plain ``model.generate`` loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lingshu.inference import get_backend
from lingshu.inference import GenerationParams, Request

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
MEDMCQA = REPO / "data" / "benchmarks" / "medmcqa" / "dev.json"
FALLBACK = [
    (
        "Which vitamin deficiency causes scurvy?",
        ["Vitamin A", "Vitamin B12", "Vitamin C", "Vitamin D"],
    ),
    ("The largest organ of the human body is", ["Liver", "Skin", "Brain", "Lung"]),
    ("Insulin is secreted by", ["Alpha cells", "Beta cells", "Delta cells", "Acinar cells"]),
    (
        "Normal adult resting heart rate (beats per minute) is",
        ["20-40", "60-100", "120-160", "180-220"],
    ),
    ("Which bone is in the thigh?", ["Humerus", "Tibia", "Femur", "Radius"]),
    ("Haemoglobin carries", ["Oxygen", "Insulin", "Bile", "Urea"]),
]
PARAMS = GenerationParams(max_new_tokens=8)


def _questions(n: int = 6) -> list[str]:
    if MEDMCQA.is_file():
        rows = [json.loads(line) for line in MEDMCQA.read_text().splitlines()[:n]]
        items = [(r["question"], [r["opa"], r["opb"], r["opc"], r["opd"]]) for r in rows]
    else:
        items = FALLBACK[:n]
    return [
        f"\nQuestion: {q}\nOptions: \n"
        + "\n".join(f"{L}. {o}" for L, o in zip("ABCD", opts, strict=True))
        + "\nAnswer with the option's letter from the given choices directly."
        for q, opts in items
    ]


@pytest.fixture(scope="module")
def backend(smollm2_dir):
    return get_backend("hf", model=str(smollm2_dir), batch_size=4, device="cpu")


@pytest.fixture(scope="module")
def requests_():
    return [
        Request(id=str(i), messages=[{"role": "user", "content": [{"type": "text", "text": q}]}])
        for i, q in enumerate(_questions())
    ]


def test_batched_greedy_equals_unbatched_and_answers_are_not_empty(backend, requests_):
    batched = backend.generate(requests_, PARAMS)
    single = [backend.generate([r], PARAMS)[0] for r in requests_]
    assert all(r.error is None and r.text.strip() for r in batched)
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.prompt_tokens for r in batched] == [r.prompt_tokens for r in single]


def test_equals_a_plain_generate_loop(backend, requests_):
    """MedEvalKit's path, written independently: template, generate, decode."""
    lm = backend.loaded
    expected = []
    for r in requests_[:3]:
        text = r.messages[0]["content"][0]["text"]
        inputs = lm.tokenizer.apply_chat_template(
            [{"role": "user", "content": text}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        with torch.inference_mode():
            out = lm.model.generate(**inputs, max_new_tokens=PARAMS.max_new_tokens, do_sample=False)
        expected.append(
            lm.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        )
    assert [r.text for r in backend.generate(requests_[:3], PARAMS)] == expected


def test_alias_gives_the_same_model(smollm2_dir, monkeypatch, backend):
    monkeypatch.setenv("LINGSHU_MODELS", str(smollm2_dir.parent))
    by_alias = get_backend("hf", model="smollm2-135m-instruct", device="cpu")
    assert by_alias.fingerprint() == backend.fingerprint()
    assert by_alias.fingerprint()["model_type"] == "llama"
