"""Continuous batching in the fast text decoder: prompts that join a running decode get
exactly what transformers' own ``generate`` gives them alone, and the engine admits queued
requests into the decode in progress (stopping, streaming, cancellation and seeded
sampling per row, unchanged).

The model is the tiny random Llama with the Qwen2.5 vocabulary and chat template
(``tiny_text_dir``): every prompt shares the template's system turn, so joiners reuse the
shared prefix's keys and values, and its random weights make every answer different, so a
row that saw another row's tokens or positions would show.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch

from lingshu.inference import Engine, GenerationParams
from lingshu.inference._causal_decode import (
    MIN_SHARED_PREFIX,
    Joining,
    common_prefix_length,
    run_causal,
)

QUESTIONS = [
    "Which organ produces insulin?",
    "Name the largest artery.",
    "What does an elevated troponin level suggest after chest pain lasting two hours, "
    "in a patient with diabetes and a family history of heart disease?",
    "Define tachycardia.",
    "Is a D-dimer test specific?",
]
OTHER_SYSTEM = "You are a radiologist."  # a different system turn: shares almost no prefix


def conversation(question: str, system: str | None = None) -> list[dict]:
    turns = [{"role": "system", "content": system}] if system else []
    return [*turns, {"role": "user", "content": question}]


@pytest.fixture(scope="module")
def loaded(tiny_text_dir):
    from lingshu.models import LoadOptions, load_model

    out = load_model(str(tiny_text_dir), LoadOptions(device="cpu"))
    assert out.kind == "causal_lm"
    return out


def prompt_ids(loaded, messages) -> list[int]:
    return loaded.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_dict=True
    )["input_ids"]


def generate_alone(loaded, ids: list[int], n: int, eos: list[int] | None = None) -> list[int]:
    """The reference: transformers' greedy ``generate`` on one unpadded prompt; the new
    tokens up to (not including) the first end-of-sequence token."""
    with torch.inference_mode():
        out = loaded.model.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=n, do_sample=False, eos_token_id=eos, pad_token_id=151643,
        )  # fmt: skip
    new = out[0, len(ids) :].tolist()
    for i, t in enumerate(new):
        if eos and t in eos:
            return new[:i]
    return new


def text_alone(loaded, engine: Engine, messages, n: int) -> str:
    tokens = generate_alone(loaded, prompt_ids(loaded, messages), n, engine.eos_token_ids)
    # A character torn by max_tokens decodes to U+FFFD; the engine drops it.
    return loaded.tokenizer.decode(tokens, skip_special_tokens=True).rstrip("\ufffd")


# -- the decoder: rows joining a running batch ------------------------------------------


def test_rows_joining_a_running_decode_equal_generate_alone(loaded):
    """One row starts (its whole prompt but the last token is the shared prefix, of which
    joiners reuse the system turn); others join after steps 1, 3 and 4: one longer than
    the running batch is wide (the running rows get padding), shorter ones, one with
    another system turn (no shared prefix), one joining exactly when every other row has
    finished; rows finish at different steps, so joins meet finished rows and compaction."""
    prompts = [prompt_ids(loaded, conversation(q)) for q in QUESTIONS]
    prompts.append(prompt_ids(loaded, conversation(QUESTIONS[0], OTHER_SYSTEM)))
    prompts.append(prompt_ids(loaded, conversation(QUESTIONS[3])))
    assert common_prefix_length(prompts[:5]) >= MIN_SHARED_PREFIX  # the system turn
    assert common_prefix_length([prompts[0], prompts[5]]) < MIN_SHARED_PREFIX
    assert len(prompts[2]) > len(prompts[0]) + 3  # wider than the running batch
    budget = {0: 9, 1: 3, 2: 7, 3: 5, 4: 4, 5: 6, 6: 5}
    schedule = {1: [1, 2], 3: [3, 5], 4: [4]}  # admit() call -> rows that join then
    got: dict[int, list[int]] = {i: [] for i in budget}
    calls = 0

    def step(row: int, token: int) -> bool:
        got[row].append(token)
        return len(got[row]) >= budget[row]

    def admit() -> list[Joining]:
        nonlocal calls
        calls += 1
        joining = schedule.get(calls, [])
        if calls > 4 and all(len(got[i]) >= budget[i] for i in range(6)) and not got[6]:
            joining = [6]  # everyone else is done: the decode goes on with this row alone
        return [Joining(i, prompts[i]) for i in joining]

    with torch.inference_mode():
        run_causal(
            loaded.model, prompts[:1], GenerationParams(), pad_id=151643, step=step, admit=admit
        )
    for i, tokens in got.items():
        assert tokens == generate_alone(loaded, prompts[i], budget[i]), f"row {i}"


def test_sampled_row_draws_the_same_tokens_whether_it_joins_or_runs_alone(loaded):
    prompts = [prompt_ids(loaded, conversation(q)) for q in QUESTIONS[:2]]
    params = GenerationParams(temperature=1.0)

    def decode(joining_later: bool) -> list[int]:
        got: dict[int, list[int]] = {0: [], 1: []}
        calls = 0

        def step(row: int, token: int) -> bool:
            got[row].append(token)
            return len(got[row]) >= 6

        def admit() -> list[Joining]:
            nonlocal calls
            calls += 1
            if joining_later and calls == 2:
                return [Joining(1, prompts[1], torch.Generator().manual_seed(7))]
            return []

        first = [0, 1] if not joining_later else [0]
        with torch.inference_mode():
            run_causal(
                loaded.model, [prompts[i] for i in first], params, pad_id=151643, step=step,
                generators=[torch.Generator().manual_seed(s) for s in (3, 7)[: len(first)]],
                admit=admit,
            )  # fmt: skip
        return got[1]

    assert decode(joining_later=True) == decode(joining_later=False)


# -- the engine: queued requests join the decode in progress ----------------------------


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def submit_on_first_delta(engine: Engine, submissions, done_order: list[str], handles=None):
    """A listener for the first request: at its first streamed text, while its decode
    runs, it submits ``submissions`` (name, messages, params, listener) from the worker
    thread, so they are queued before the decoder next asks for joiners. Their handles go
    into ``handles`` (returned) as they are submitted, before any of their events."""
    handles = {} if handles is None else handles
    submitted = threading.Event()

    def listener(ev) -> None:
        if ev.kind == "delta" and not submitted.is_set():
            submitted.set()
            for name, messages, params, inner in submissions:
                listen = _recorder(name, done_order, inner)
                handles[name] = engine.submit(messages, params, listener=listen)
        if ev.kind == "done":
            done_order.append("first")

    return listener, handles


def _recorder(name: str, done_order: list[str], inner=None):
    def listener(ev) -> None:
        if inner is not None:
            inner(ev)
        if ev.kind == "done":
            done_order.append(name)

    return listener


def test_late_requests_join_the_running_decode_and_finish_first(loaded):
    early = conversation(QUESTIONS[0])
    late = {
        "longer": conversation(QUESTIONS[2]),
        "shorter": conversation(QUESTIONS[3]),
        "other system turn": conversation(QUESTIONS[1], OTHER_SYSTEM),
    }
    with Engine(loaded, max_batch_size=4, batch_wait_s=0.0) as engine:
        expected_early = text_alone(loaded, engine, early, 40)
        expected = {name: text_alone(loaded, engine, m, 4) for name, m in late.items()}
        done_order: list[str] = []
        listener, handles = submit_on_first_delta(
            engine,
            [(name, m, GenerationParams.from_client(max_new_tokens=4), None) for name, m in late.items()],
            done_order,
        )
        first = engine.submit(early, GenerationParams.from_client(max_new_tokens=40), listener=listener)
        result = first.result(timeout=120)
        late_results = {name: h.result(timeout=120) for name, h in handles.items()}
        assert engine.stats.batches == 1 and engine.stats.joined == 3  # one decode for all four
        assert engine.stats.requests == 4
    assert result.completion_tokens == 40  # it really ran long
    assert result.text == expected_early
    assert {name: r.text for name, r in late_results.items()} == expected
    assert done_order[-1] == "first"  # the late ones did not wait for the early one


def test_a_joined_row_streams_stops_on_its_stop_string_and_can_be_cancelled(loaded):
    early = conversation(QUESTIONS[0])
    streamed, stopped, cancelled = (conversation(q) for q in QUESTIONS[2:5])
    with Engine(loaded, max_batch_size=4, batch_wait_s=0.0) as engine:
        expected_early = text_alone(loaded, engine, early, 30)
        expected_streamed = text_alone(loaded, engine, streamed, 8)
        full = text_alone(loaded, engine, stopped, 12)
        stop = full[len(full) // 2 : len(full) // 2 + 2]  # two characters from the middle
        assert stop.strip()
        pieces: list[str] = []
        handles: dict = {}

        def on_streamed(ev) -> None:
            if ev.kind == "delta":
                pieces.append(ev.text)

        def on_cancelled(ev) -> None:
            if ev.kind == "delta":
                handles["cancelled"].cancel()  # its client went away after the first text

        done_order: list[str] = []
        listener, _ = submit_on_first_delta(
            engine,
            [
                ("streamed", streamed, GenerationParams.from_client(max_new_tokens=8), on_streamed),
                ("stopped", stopped, GenerationParams.from_client(max_new_tokens=12, stop=(stop,)), None),
                ("cancelled", cancelled, GenerationParams.from_client(max_new_tokens=1000), on_cancelled),
            ],
            done_order,
            handles,
        )
        first = engine.submit(early, GenerationParams.from_client(max_new_tokens=30), listener=listener)
        result = first.result(timeout=120)
        out = {name: h.result(timeout=120) for name, h in handles.items()}
        assert engine.stats.joined == 3 and engine.stats.batches == 1
    assert result.text == expected_early  # the others joining and leaving changed nothing
    assert out["streamed"].text == expected_streamed == "".join(pieces)
    assert len(pieces) > 1
    assert out["stopped"].text == full[: full.find(stop)]
    assert out["stopped"].finish_reason == "stop"
    assert out["cancelled"].finish_reason == "cancelled"
    assert out["cancelled"].completion_tokens < 30


def test_a_seeded_sampled_request_answers_the_same_joined_or_alone(loaded):
    params = GenerationParams.from_client(max_new_tokens=8, temperature=0.9, seed=11)
    joiner = conversation(QUESTIONS[1])
    with Engine(loaded, max_batch_size=4, batch_wait_s=0.0) as engine:
        alone = engine.generate(joiner, params).text
        listener, handles = submit_on_first_delta(engine, [("b", joiner, params, None)], [])
        engine.submit(
            conversation(QUESTIONS[0]), GenerationParams.from_client(max_new_tokens=30, temperature=0.9, seed=5),
            listener=listener,
        ).result(timeout=120)  # fmt: skip
        assert handles["b"].result(timeout=120).text == alone
        assert engine.stats.joined == 1


def test_a_request_that_cannot_join_is_not_overtaken(loaded):
    """Queued behind a sampled request, a greedy one does not join the greedy decode
    running: it would overtake the sampled one, which needs a decode of its own."""
    with Engine(loaded, max_batch_size=4, batch_wait_s=0.0) as engine:
        done_order: list[str] = []
        listener, handles = submit_on_first_delta(
            engine,
            [
                ("sampled", conversation(QUESTIONS[1]), GenerationParams.from_client(max_new_tokens=3, temperature=1.0), None),
                ("greedy", conversation(QUESTIONS[3]), GenerationParams.from_client(max_new_tokens=3), None),
            ],
            done_order,
        )
        engine.submit(conversation(QUESTIONS[0]), GenerationParams.from_client(max_new_tokens=20), listener=listener)
        wait_for(lambda: len(done_order) == 3)
        assert engine.stats.joined == 0 and engine.stats.batches == 3
    assert done_order == ["first", "sampled", "greedy"]


def test_the_generate_strategy_takes_no_joiners(loaded):
    with Engine(loaded, max_batch_size=4, batch_wait_s=0.0, strategy="generate") as engine:
        listener, handles = submit_on_first_delta(
            engine, [("late", conversation(QUESTIONS[3]), GenerationParams.from_client(max_new_tokens=3), None)], []
        )
        engine.submit(conversation(QUESTIONS[0]), GenerationParams.from_client(max_new_tokens=10), listener=listener)
        wait_for(lambda: "late" in handles)
        handles["late"].result(timeout=120)
        assert engine.stats.joined == 0 and engine.stats.batches == 2
        assert engine.stats.strategies[0] == "generate"
