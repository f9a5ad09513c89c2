"""One request, one greedy answer, whichever way it reaches the model.

For the tiny Qwen2.5-VL, Lingshu-Nano and SmolLM2: the answers of ``lingshu eval run``
(hf backend, requests batched with others of different lengths), ``lingshu serve`` (real
HTTP, concurrent clients), ``lingshu chat`` and the inference layer called directly (in a
batch mixed with other requests, with and without images, with stop strings) all equal
transformers' own ``generate`` on that request alone. The reference below is written
against transformers only (processor, chat template, ``generate``), not our encoder.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import torch
from PIL import Image

from lingshu.cli.main import main as lingshu
from lingshu.inference import Engine, GenerationParams

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "benchmarks"
sys.path.insert(0, str(ROOT / "tests" / "serve"))
N = 10  # new tokens per answer: enough to differ, cheap on 2 CPU cores
_ISOLATED = "LINGSHU_ACCEPTANCE_ISOLATED"


def _run_isolated(name: str) -> None:
    """Run this test for ``name`` in a fresh interpreter and require it to pass.

    Why: in the full suite, a module imported by an earlier test (rouge_score, through
    absl) leaves process-wide state after which pytest's capture stream of this test is
    found closed at teardown, and the whole session dies ("lost sys.stderr"). The test
    passes in its own interpreter; its assertions run there unchanged.
    """
    node = f"{Path(__file__)}::test_one_answer_through_eval_serve_chat_and_the_layer[{name}]"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
        env={**os.environ, _ISOLATED: "1"}, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.fixture(scope="module", params=["tiny", "nano", "smollm2"])
def model(request, tmp_path_factory):
    """(name, directory, loaded model) for each model of the suite; (name, None, None) in
    the parent process when the test runs isolated (see ``_run_isolated``)."""
    if os.environ.get(_ISOLATED) != "1":
        return request.param, None, None
    from lingshu.models import LoadOptions, build_tiny_qwen2_5_vl, ensure_smollm2_dir, load_model

    base = tmp_path_factory.getbasetemp()
    smol = ensure_smollm2_dir(base / "lingshu-models")
    if request.param == "tiny":
        path = base / "tiny-qwen2_5_vl"
        if not (path / "model.safetensors").is_file():
            build_tiny_qwen2_5_vl(path, seed=0)
    elif request.param == "nano":
        from lingshu.models.nano import build_nano

        path = base / "lingshu-nano"
        if not (path / "config.json").is_file():
            build_nano(path, seed=0, smollm2_dir=smol)
    else:
        path = smol
    return request.param, path, load_model(str(path), LoadOptions(device="cpu"))


def reference(loaded, messages, n=N, stop=()):
    """transformers' greedy ``generate`` on ``messages`` alone; text cut at ``stop``."""
    model = loaded.model
    eos = model.generation_config.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    eos += [loaded.tokenizer.eos_token_id]
    if loaded.kind == "causal_lm":
        tok = loaded.tokenizer
        flat = [{"role": m["role"], "content": _text(m["content"])} for m in messages]
        enc = tok.apply_chat_template(
            flat, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )
    else:
        proc = loaded.processor
        images = [
            Image.open(p["image"]).convert("RGB")
            for m in messages if isinstance(m["content"], list)
            for p in m["content"] if p["type"] == "image"
        ]  # fmt: skip
        templated = [
            {
                "role": m["role"],
                "content": m["content"] if isinstance(m["content"], str)
                else [{"type": "image"} if p["type"] == "image" else p for p in m["content"]],
            }
            for m in messages
        ]  # fmt: skip
        text = proc.apply_chat_template(templated, add_generation_prompt=True, tokenize=False)
        enc = proc(text=[text], images=images or None, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(
            **enc, max_new_tokens=n, do_sample=False, num_beams=1, repetition_penalty=1.0,
            eos_token_id=eos, pad_token_id=loaded.tokenizer.pad_token_id,
        )  # fmt: skip
    new = out[0, enc["input_ids"].shape[1] :].tolist()
    text = loaded.tokenizer.decode(new, skip_special_tokens=True).rstrip("\ufffd")
    cuts = [text.find(s) for s in stop if s in text]
    return text[: min(cuts)] if cuts else text


def _text(content):
    return content if isinstance(content, str) else "".join(
        p["text"] for p in content if p["type"] == "text"
    )


def _openai_messages(messages):
    out = []
    for m in messages:
        if isinstance(m["content"], str):
            out.append(m)
            continue
        parts = []
        for p in m["content"]:
            if p["type"] == "image":
                data = base64.b64encode(Path(p["image"]).read_bytes()).decode()
                suffix = Path(p["image"]).suffix.lstrip(".").lower().replace("jpg", "jpeg")
                parts.append({"type": "image_url", "image_url": {"url": f"data:image/{suffix};base64,{data}"}})
            else:
                parts.append(p)
        out.append({"role": m["role"], "content": parts})
    return out


def _eval_run(name, path, out, capsys):
    if name == "smollm2":
        benches = ["-b", "medmcqa", "--limit", "3"]
    else:
        benches = ["-b", "vqa-rad", "-b", "medmcqa", "--split", "vqa-rad=train", "--limit", "2"]
    code = lingshu([
        "eval", "run", *benches, "--data-dir", str(DATA), "--backend", "hf", "--model", str(path),
        "--device", "cpu", "--batch-size", "4", "--max-new-tokens", str(N), "--no-cache",
        "-o", str(out), "--quiet",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return [
        json.loads(line)
        for f in sorted((out / "samples").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def test_one_answer_through_eval_serve_chat_and_the_layer(model, tmp_path, capsys):
    from serve_helpers import start_server

    from lingshu.serve.settings import ServerSettings

    name, path, loaded = model
    if path is None:
        _run_isolated(name)
        return
    # 1. lingshu eval run: requests batched together, of different lengths.
    records = _eval_run(name, path, tmp_path / "run", capsys)
    assert records and all(r["error"] is None for r in records)
    requests = [r["prompt"] for r in records]
    expected = [reference(loaded, m) for m in requests]
    assert [r["response"] for r in records] == expected
    assert len(set(expected)) > 1  # the answers really differ between requests
    with_images = [m for m in requests if any(
        isinstance(x["content"], list) and any(p["type"] == "image" for p in x["content"])
        for x in m
    )]  # fmt: skip
    assert bool(with_images) == (name != "smollm2")

    # 2. The layer directly: the same requests mixed with shorter and longer ones.
    engine = Engine(loaded, max_batch_size=8, batch_wait_s=0.02)
    others = [
        [{"role": "user", "content": "Hi."}],
        [{"role": "user", "content": "Describe the anatomy of the heart in detail, " * 6}],
    ]
    prompts = [engine.encode(m) for m in others + requests]
    got = engine.generate_many(prompts, GenerationParams.from_client(max_new_tokens=N))
    assert [g.text for g in got[len(others):]] == expected
    assert engine.stats.strategies[-1] == ("fast" if name == "smollm2" else "generate")

    # Stop strings: cut where the reference's own text holds them, row by row.
    long = max(expected, key=len)
    stop = (long[2:4],)
    assert stop[0] and stop[0] in long
    got = engine.generate_many(prompts, GenerationParams.from_client(max_new_tokens=N, stop=stop))
    assert [g.text for g in got[len(others):]] == [reference(loaded, m, stop=stop) for m in requests]

    # 3. lingshu serve over HTTP: concurrent clients, with and without stop strings.
    settings = ServerSettings(
        served_model_name="m", allowed_hosts=("127.0.0.1",), default_temperature=0.0
    )
    live, stop_server = start_server(engine, settings)
    try:
        def ask(args):
            messages, stops = args
            body = {"model": "m", "messages": _openai_messages(messages), "max_tokens": N,
                    "temperature": 0, "stop": list(stops) or None}  # fmt: skip
            resp = httpx.post(f"{live.url}/v1/chat/completions", json=body, timeout=300)
            assert resp.status_code == 200, resp.text
            return resp.json()["choices"][0]["message"]["content"]

        jobs = [(m, ()) for m in requests] + [(m, stop) for m in requests]
        with ThreadPoolExecutor(len(jobs)) as pool:
            answers = list(pool.map(ask, jobs))
        assert answers[: len(requests)] == expected
        assert answers[len(requests):] == [reference(loaded, m, stop=stop) for m in requests]
        if name == "smollm2":
            assert "fast" in engine.stats.strategies  # the server decodes text with it too
    finally:
        stop_server()
        engine.close()

    # 4. lingshu chat: a question, with an image for the vision-language models.
    question = "What is shown here?"
    args = ["chat", "--model", str(path), "--device", "cpu", "--max-tokens", str(N)]
    content = [{"type": "text", "text": question}]
    if with_images:
        image = next(p["image"] for m in with_images for x in m
                     if isinstance(x["content"], list) for p in x["content"] if p["type"] == "image")  # fmt: skip
        args += ["--image", image]
        content = [{"type": "image", "image": image}, *content]
    assert lingshu([*args, question]) == 0
    out = capsys.readouterr().out
    assert out == reference(loaded, [{"role": "user", "content": content}]) + "\n"
