"""Synthesis once over real HTTP: `lingshu serve` with a real (tiny random) Qwen2.5-VL
model, the `openai` backend, and the response cache making the rerun free."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from curation_helpers import rad_images, read_out, write_jsonl, write_recipe

from lingshu.data.curate import load_recipe, run_recipe

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_caption_synthesis_through_lingshu_serve(tmp_path):
    from lingshu.models.tiny import build_tiny_qwen2_5_vl

    model = build_tiny_qwen2_5_vl(tmp_path / "tiny", seed=0)
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "lingshu.cli.serve", "--model", str(model),
                             "--port", str(port), "--served-model-name", "tiny"],
                            env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.3)
        write_jsonl(tmp_path / "d.jsonl", [
            {"id": p.stem, "image": str(p), "question": "Describe.", "answer": "x",
             "modality": "CT"} for p in rad_images(2)])
        llm = {"backend": "openai", "max_new_tokens": 8,
               "options": {"model": "tiny", "base_url": f"{url}/v1", "api_key": "none",
                           "max_retries": 0}}
        recipe = write_recipe(tmp_path / "r.yaml", [{"name": "d", "path": "d.jsonl"}],
                              [{"op": "synth_caption", "llm": llm, "keep_source": False}])
        run_recipe(load_recipe(recipe))
        rows, excl = read_out(tmp_path / "out")
        assert [r["id"] for r in rows] == [f"d:{p.stem}/caption" for p in rad_images(2)]
        # keep_source false: the parents leave, replaced by their captions
        assert [(e["id"], e["reason"]) for e in excl] == [
            (f"d:{p.stem}", "replaced by its synthesised sample(s)") for p in rad_images(2)]
        assert all(r["messages"][1]["content"][0]["text"] for r in rows)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # the server is gone: a fresh run over the same recipe is answered from the cache
    import shutil

    for p in (tmp_path / "out").iterdir():
        if p.name != ".work":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in (tmp_path / "out" / ".work").iterdir():
        if p.name.startswith("stage"):
            shutil.rmtree(p)
    run_recipe(load_recipe(recipe))
    assert read_out(tmp_path / "out") == (rows, excl)
