"""The reduced demo recipe on a CPU without bf16 instructions (issue 23).

Most laptops have no AVX512-BF16 or AMX: torch emulates bf16 there, and a bf16 matmul runs
20-300x slower than fp32 (bench/cpu_precision.py). This test limits torch, oneDNN and MKL
to AVX2 kernels (``lingshu.models.precision.AVX2_ONLY_ENV``), which makes any CPU behave
like such a laptop, and runs the demo's reduced recipe (tests/pipeline/test_demo_reduced.py)
under it. It fails when a recipe change is fast only with hardware bf16: a hard-coded
``precision: bf16`` or ``dtype: bfloat16`` (caught by name, and by the CPU-time budget),
or any new cost that blows the budget.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lingshu.models.precision import AVX2_ONLY_ENV

from test_demo_reduced import run_reduced  # pytest puts this folder on sys.path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

# CPU seconds of the whole reduced run (every step, all threads of the pipeline process),
# measured under AVX2_ONLY_ENV on the development CPU (bench/demo_phases.py, 2026-12-07, load
# average 12-18: CPU time inflates under load too, so this is generous). The budget is 3x
# that, so a slower CI CPU passes while emulated bf16 (20-300x per matmul) cannot.
CPU_MEASURED = 352.0
CPU_BUDGET = 3 * CPU_MEASURED


@pytest.fixture(scope="module")
def avx2_run(tmp_path_factory) -> Path:
    # LINGSHU_PIPELINE_TEST_RUN_AVX2 reuses a run folder (bench/demo_phases.py's avx2-auto
    # run is one): its finished steps come from the step cache, their CPU seconds from
    # their records; unset, the reduced demo runs from scratch.
    reuse = os.environ.get("LINGSHU_PIPELINE_TEST_RUN_AVX2")
    run = Path(reuse) if reuse else tmp_path_factory.mktemp("demo-avx2") / "run"
    cache = run.parent / "cache"  # fresh response cache: nothing answered before
    env = dict(AVX2_ONLY_ENV, LINGSHU_CACHE=str(cache))
    if os.environ.get("LINGSHU_MODELS") is None:  # reuse converted models where they are
        env["LINGSHU_MODELS"] = str(_models_dir())
    return run_reduced(run, env)


def _models_dir() -> Path:
    from lingshu.models import models_cache_dir

    return models_cache_dir()


def test_auto_resolves_to_fp32_and_says_why(avx2_run):
    err = (avx2_run / "stderr.txt").read_text()
    assert "precision auto -> fp32: this CPU" in err
    for step in ("eval-base", "eval-stage4-grpo"):
        config = json.loads((avx2_run / step / "eval" / "config.json").read_text())
        assert config["backend_options"]["dtype"] == "float32"


def test_reduced_demo_fits_its_cpu_budget(avx2_run):
    done = {d.parent.name: json.loads(d.read_text()) for d in avx2_run.glob("*/.done.json")}
    assert {"eval-base", "stage-stage1-shallow-alignment", "stage-stage4-grpo"} <= set(done)
    cpu = sum(r["cpu_seconds"] for r in done.values())
    assert cpu < CPU_BUDGET, f"reduced demo used {cpu:.0f} CPU s under AVX2 (budget {CPU_BUDGET:.0f})"
