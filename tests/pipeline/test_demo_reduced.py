"""A reduced run of the demo recipe itself (the shipped `nano` pipeline recipe, Lingshu-Nano) and
the browser test of its result: `lingshu serve --model RUN/final --ui` answers, in the web
page, a question about a held-out demo image.

Reduced: 12 images per source, a few steps per stage, 12 + 4 evaluation questions; it shows
that every step of the shipped recipe runs end to end (CI), not that the model learns
(`make demo` does that; docs/pipeline.md has the measured numbers).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECIPE = "nano"  # src/lingshu/pipeline/recipes/nano.yaml, by name as `make demo` runs it
CHROMIUM = "/usr/bin/chromium"

# Minutes on an idle 2-core machine; far more on a loaded one: above pytest's 900 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

REDUCED = [
    "raw.limit_per_source=12",
    "training_overrides=" + json.dumps([
        "stages.0.max_steps=6", "stages.0.per_device_batch=4", "stages.0.embedding_alignment.epochs=2",
        "stages.1.max_steps=1", "stages.1.per_device_batch=4",
        "stages.2.max_steps=1", "stages.2.max_length=512",
        "stages.3.max_steps=1", "stages.3.num_generations=2", "stages.3.global_batch=4",
        "stages.3.rollout_batch=4", "stages.3.per_device_batch=4", "stages.3.max_completion_length=6",
    ]),
    "evaluation.benchmarks=" + json.dumps([{"name": "lingshu-demo", "limit": 12},
                                           {"name": "mmlu-med", "split": "val", "limit": 4}]),
    "evaluation.bootstrap_resamples=200",
]


def run_reduced(run: Path, env: dict[str, str] | None = None, timeout: float = 3000) -> Path:
    """The reduced demo into ``run`` in a child process (``env`` added to this one's);
    its stdout and stderr are kept beside the report."""
    args = [sys.executable, "-m", "lingshu.cli.main", "pipeline", "--recipe", RECIPE, "-q",
            "--set", f"output_dir={run}", "--set", f"final_model={run / 'final'}"]
    for o in REDUCED:
        args += ["--set", o]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src")) | (env or {})
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    (run / "stdout.txt").write_text(out.stdout)
    (run / "stderr.txt").write_text(out.stderr)
    return run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    # LINGSHU_PIPELINE_TEST_RUN reuses a run folder across sessions (the pipeline resumes
    # it: finished steps come from its cache); unset, every session starts from scratch.
    reuse = os.environ.get("LINGSHU_PIPELINE_TEST_RUN")
    return run_reduced(Path(reuse) if reuse else tmp_path_factory.mktemp("demo") / "run")


def test_reduced_demo_runs_every_step(demo_run):
    report = json.loads((demo_run / "report.json").read_text())
    assert [p["label"] for p in report["points"]] == [
        "base", "stage1-shallow-alignment", "stage2-deep-alignment",
        "stage3-instruction-tuning", "stage4-grpo"]
    for p in report["points"]:
        assert p["eval"]["lingshu-demo"]["n"] == 12 and p["eval"]["mmlu-med"]["n"] == 4
    # every evaluation ran the recipe's evaluation.dtype (auto: as trained, per machine)
    from lingshu.models.precision import resolve_dtype_name

    for step in ("eval-base", "eval-stage4-grpo"):
        config = json.loads((demo_run / step / "eval" / "config.json").read_text())
        assert config["backend_options"]["dtype"] == resolve_dtype_name("auto", announce=False)
    assert report["paired"]["lingshu-demo"]["n"] == 12
    assert {g["benchmark"] for g in report["gates"]} == {"lingshu-demo", "mmlu-med", "stage4-grpo"}
    leak = report["data"]["leak_check"]
    assert leak["closest_distance"] > leak["max_distance"]
    decon = (demo_run / "curate" / "decontamination.jsonl").read_text()
    assert "lingshu-demo" in decon
    assert (demo_run / "stage-stage4-grpo" / "metrics.jsonl").is_file()
    align = (demo_run / "stage-stage1-shallow-alignment" / "embedding_alignment.jsonl").read_text()
    assert json.loads(align.splitlines()[-1])["epoch"] == 2
    out = (demo_run / "stdout.txt").read_text()
    assert f"lingshu serve --model {demo_run / 'final'} --ui" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
def test_served_final_model_answers_about_a_heldout_image(demo_run, tmp_path):
    import httpx
    from playwright.sync_api import sync_playwright

    from lingshu.eval.benchmarks import get_benchmark
    from lingshu.eval.prompts import get_profile

    from PIL import Image

    sample = get_benchmark("lingshu-demo").load(REPO / "data" / "benchmarks")[0]
    png = tmp_path / "heldout.png"  # lossless, so the page and the API send the same pixels
    Image.open(sample.images[0]).convert("RGB").save(png)
    question = get_profile("strict").prompt(sample)
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    server = subprocess.Popen(
        [sys.executable, "-m", "lingshu.cli.main", "serve", "--model", str(demo_run / "final"),
         "--ui", "--port", str(port), "--device", "cpu"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            raise AssertionError("server did not start: " + server.stdout.read1().decode()[-2000:])
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                         "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/")
            page.set_input_files("#image-input", str(png))
            page.wait_for_function("() => document.getElementById('preview').naturalWidth > 0",
                                   timeout=60_000)
            if not page.evaluate("document.getElementById('settings').open"):
                page.click("#settings summary")
            page.fill("#max-tokens", "12")
            page.fill("#question", question)
            page.click("#send")
            page.wait_for_function(
                "() => document.getElementById('status').dataset.state === 'done'", timeout=300_000)
            answer = page.inner_text(".msg.assistant:last-child .text")
            assert page.locator(".msg.user img").count() == 1  # the held-out image went with it
            browser.close()
        import base64

        uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
        served = httpx.get(url + "/v1/models", timeout=30).json()["data"][0]["id"]
        api = httpx.post(url + "/v1/chat/completions", timeout=300, json={
            "model": served, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}},
                                                      {"type": "text", "text": question}]}],
            "max_tokens": 12, "temperature": 0}).json()
        assert answer.strip() and answer == api["choices"][0]["message"]["content"]
    finally:
        server.terminate()
        server.wait(timeout=30)
