"""Where the demo's time goes: each pipeline phase's wall and CPU seconds per precision and CPU.

Runs the demo recipe (the shipped `nano` pipeline recipe) once per setting, one after the other, each
in a fresh run folder and a fresh response cache (converted models are shared through
``LINGSHU_MODELS``, so Lingshu-Nano's one-time build is not counted), and prints one table:
a row per phase (each pipeline step; stage 1 split into its embedding-alignment passes and
its caption steps), a column pair (wall s / CPU s) per setting. Settings are precision
``auto``, ``bf16`` and ``fp32`` (training precision and evaluation dtype together), natively
and under the AVX2-only setting (``lingshu.models.precision.AVX2_ONLY_ENV``: this CPU made to
behave like one without bf16 instructions, issue 23).

CPU seconds are the pipeline process's own (all its threads): on a shared machine they
move less with the load than wall seconds do; the load average is printed per setting.

``--scale reduced`` (default) is the CI's reduced recipe (tests/pipeline/test_demo_reduced.py:
12 images per source, a few steps per stage, 12 + 4 questions); ``--scale full`` is the
demo itself (about 13 minutes per setting natively; emulated bf16 is far slower: give it
``--timeout``).

    python bench/demo_phases.py                                  # all six settings, reduced
    python bench/demo_phases.py --settings avx2:auto,native:auto --scale full
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "src" / "lingshu" / "pipeline" / "recipes" / "nano.yaml"
SETTINGS = ["native:auto", "native:bf16", "native:fp32", "avx2:auto", "avx2:fp32", "avx2:bf16"]
DTYPE = {"auto": "auto", "bf16": "bfloat16", "fp32": "float32"}


def reduced_overrides() -> list[str]:
    """The CI's reduced recipe, as its test defines it (one definition)."""
    sys.path.insert(0, str(REPO / "tests" / "pipeline"))
    from test_demo_reduced import REDUCED

    return list(REDUCED)


def overrides_for(precision: str, scale: str) -> list[str]:
    base = reduced_overrides() if scale == "reduced" else []
    training = [f"precision={precision}"]
    rest = []
    for o in base:
        if o.startswith("training_overrides="):
            training = json.loads(o.split("=", 1)[1]) + training
        else:
            rest.append(o)
    return rest + ["training_overrides=" + json.dumps(training), f"evaluation.dtype={DTYPE[precision]}"]


def run_setting(setting: str, scale: str, root: Path, timeout: float) -> dict:
    from lingshu.models.precision import AVX2_ONLY_ENV

    cpu, precision = setting.split(":")
    run = root / setting.replace(":", "-") / "run"
    env = {k: v for k, v in os.environ.items() if k not in AVX2_ONLY_ENV}
    env |= (AVX2_ONLY_ENV if cpu == "avx2" else {}) | {
        "LINGSHU_CACHE": str(run.parent / "cache"), "PYTHONPATH": str(REPO / "src")}
    env.setdefault("LINGSHU_MODELS", str(_models_dir()))
    args = [sys.executable, "-m", "lingshu.cli.main", "pipeline", "--recipe", str(RECIPE), "-q",
            "--set", f"output_dir={run}", "--set", f"final_model={run / 'final'}"]
    for o in overrides_for(precision, scale):
        args += ["--set", o]
    load, t0 = os.getloadavg()[0], time.time()
    try:
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        status = "ok" if out.returncode == 0 else f"failed (rc {out.returncode})"
        said = [line for line in out.stderr.splitlines() if line.startswith("precision auto")]
    except subprocess.TimeoutExpired:
        status, said = f"timeout after {timeout:.0f} s", []
    return {"setting": setting, "status": status, "wall": time.time() - t0, "load": load,
            "load_after": os.getloadavg()[0], "phases": phases(run), "auto": said[:1]}


def phases(run: Path) -> dict[str, tuple[float, float | None]]:
    """Phase -> (wall s, CPU s) from each finished step's record; stage 1's alignment passes
    and caption steps apart (the caption steps' own step times, the rest is alignment and
    loading)."""
    out: dict[str, tuple[float, float | None]] = {}
    for done in sorted(run.glob("*/.done.json"), key=lambda p: p.stat().st_mtime):
        rec = json.loads(done.read_text())
        step = done.parent.name
        out[step] = (rec["seconds"], rec.get("cpu_seconds"))
        metrics = done.parent / "train_metrics.jsonl"
        if (done.parent / "embedding_alignment.jsonl").is_file() and metrics.is_file():
            steps = sum(json.loads(line).get("step_time_s", 0) for line in metrics.read_text().splitlines()
                        if line.strip())
            out[f"  {step}: caption steps"] = (round(steps, 1), None)
            out[f"  {step}: alignment + load/save"] = (round(rec["seconds"] - steps, 1), None)
    return out


def _models_dir() -> Path:
    from lingshu.models import models_cache_dir

    return models_cache_dir()


def print_table(rows: list[dict]) -> None:
    names: list[str] = []
    for r in rows:
        names += [n for n in r["phases"] if n not in names]
    head = f"{'phase':<52}" + "".join(f"{r['setting']:>22}" for r in rows)
    print(head + "\n" + f"{'':<52}" + "".join(f"{'wall s / CPU s':>22}" for _ in rows))
    for n in names:
        cells = []
        for r in rows:
            wall, cpu = r["phases"].get(n, (None, None))
            cells.append("-" if wall is None else f"{wall:.1f} / {cpu:.1f}" if cpu is not None else f"{wall:.1f}")
        print(f"{n:<52}" + "".join(f"{c:>22}" for c in cells))
    print(f"{'total wall (process)':<52}" + "".join(f"{r['wall']:>22.1f}" for r in rows))
    print(f"{'load average before -> after':<52}" + "".join(
        f"{r['load']:>15.2f} -> {r['load_after']:.2f}" for r in rows))
    for r in rows:
        print(f"{r['setting']}: {r['status']}; {' '.join(r['auto']) or ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="comma-separated CPU:PRECISION (CPU native|avx2; auto|bf16|fp32)")
    parser.add_argument("--scale", choices=["reduced", "full"], default="reduced")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per setting")
    parser.add_argument("--keep", default=None, help="run folders here (default: a temp folder)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    bad = [s for s in settings if s.count(":") != 1 or s.split(":")[0] not in ("native", "avx2")
           or s.split(":")[1] not in DTYPE]
    if bad:
        parser.error(f"--settings: {bad} not CPU:PRECISION (CPU native|avx2; auto|bf16|fp32)")
    root = Path(args.keep or tempfile.mkdtemp(prefix="demo-phases-"))
    rows = []
    for s in settings:
        rows.append(run_setting(s, args.scale, root, args.timeout))
        print(f"{s}: {rows[-1]['status']}, {rows[-1]['wall']:.0f} s", file=sys.stderr, flush=True)
    print(f"demo phases ({args.scale} recipe), run folders under {root}")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
