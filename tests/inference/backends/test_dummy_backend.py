"""The dummy backend: answers are a pure function of the messages; failures of the id."""

from __future__ import annotations

import hashlib
import json
import time

from lingshu.inference import get_backend
from lingshu.inference.backends.dummy import WORDS, dummy_answer, dummy_fails
from lingshu.inference import GenerationParams, Request

MCQ = (
    "Question: Which organ?\nOptions: \nA. Liver\nB. Lung\nC. Heart\nD. Kidney\n"
    "Answer with the option's letter."
)
YESNO = "Is there a fracture?\nPlease output 'yes' or 'no'(no extra output)."
OPEN = "What modality is this image?"


def _msgs(text, image=None):
    content = ([{"type": "image", "image": image}] if image else []) + [
        {"type": "text", "text": text}
    ]
    return [{"role": "user", "content": content}]


def _digest(messages) -> int:
    """Independent of lingshu.core.hashing: canonical JSON written out here."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return int(hashlib.sha256(canonical.encode()).hexdigest(), 16)


def test_mcq_answer_is_the_hash_chosen_letter():
    m = _msgs(MCQ)
    assert dummy_answer(m) == "ABCD"[_digest(m) % 4]


def test_mcq_letters_follow_the_options_present():
    m = _msgs("Pick one:\nA. x\nB. y")
    assert dummy_answer(m) == "AB"[_digest(m) % 2]


def test_yes_no_and_open_answers():
    y, o = _msgs(YESNO), _msgs(OPEN)
    assert dummy_answer(y) == ("yes", "no")[_digest(y) % 2]
    assert dummy_answer(o) == WORDS[_digest(o) % len(WORDS)]


def test_answers_are_independent_of_order_and_batching():
    b = get_backend("dummy")
    reqs = [Request(id=str(i), messages=_msgs(f"{OPEN} #{i}")) for i in range(20)]
    forward = [r.text for r in b.generate(reqs, GenerationParams())]
    backward = [r.text for r in b.generate(reqs[::-1], GenerationParams())][::-1]
    single = [b.generate([r], GenerationParams())[0].text for r in reqs]
    assert forward == backward == single
    assert len(set(forward)) > 3  # answers really vary


def test_image_path_is_part_of_the_hashed_request():
    assert {dummy_answer(_msgs(OPEN, f"/img/{i}.png")) for i in range(30)} != {
        dummy_answer(_msgs(OPEN))
    }


def test_fail_every_is_chosen_by_id_hash():
    ids = [f"s{i}" for i in range(300)]
    expected = {i for i in ids if int(hashlib.sha256(i.encode()).hexdigest(), 16) % 3 == 0}
    b = get_backend("dummy", fail_every=3)
    responses = b.generate([Request(id=i, messages=_msgs(OPEN)) for i in ids], GenerationParams())
    failed = {i for i, r in zip(ids, responses, strict=True) if r.error}
    assert failed == expected and 60 < len(failed) < 140
    assert all(
        r.error == "dummy failure (fail_every=3)" and r.text == "" for r in responses if r.error
    )
    assert not any(dummy_fails(i, 0) for i in ids)


def test_latency_sleeps_once_per_call_and_tokens_are_counted():
    b = get_backend("dummy", latency_s=0.2)
    t0 = time.perf_counter()
    responses = b.generate(
        [Request(id=str(i), messages=_msgs("one two three")) for i in range(5)], GenerationParams()
    )
    assert 0.2 <= time.perf_counter() - t0 < 0.6
    assert all((r.prompt_tokens, r.completion_tokens) == (3, 1) for r in responses)


def test_fingerprint_and_batch_size():
    b = get_backend("dummy", batch_size=4)
    assert b.fingerprint() == {"backend": "dummy", "version": "1"}
    assert b.preferred_batch_size() == 4
