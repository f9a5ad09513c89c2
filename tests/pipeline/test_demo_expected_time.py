"""`make demo` prints the expected time for the machine it runs on (issue 23), and the figures
it prints are the measured runs the README and docs/performance.md record."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

from lingshu.models.precision import AVX2_ONLY_ENV

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "demo_expected_time.py"


def _measured() -> dict[str, tuple[int, str]]:
    spec = importlib.util.spec_from_file_location("demo_expected_time", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.MEASURED


def test_an_avx2_only_cpu_is_told_the_fp32_figure(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), LINGSHU_CACHE=str(tmp_path)) | AVX2_ONLY_ENV
    out = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    minutes, _ = _measured()["fp32"]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("make demo on this CPU") and "fp32" in lines[0]
    assert lines[1].startswith(f"expected time: about {minutes} minutes (")


def test_each_figure_is_a_documented_measurement_rounded_up():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    perf = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    for precision, (minutes, source) in _measured().items():
        m = re.search(r"(\d+) min (\d+) s measured", source)
        assert m, (precision, source)
        measured = f"{m.group(1)} min {m.group(2)} s"
        # the printed minutes never promise less than the measurement
        assert minutes == math.ceil(int(m.group(1)) + int(m.group(2)) / 60), precision
        assert measured in readme and measured in perf, (precision, measured)
