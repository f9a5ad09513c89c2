"""bf16 against fp32 on this CPU, natively and with torch + oneDNN limited to AVX2 kernels.

Why: bf16 autocast is faster than fp32 only on CPUs with bf16 instructions (AVX512-BF16,
AMX). Elsewhere it is emulated and far slower (issue 23: a 512x2048 @ 2048x2048 matmul took
0.37 s in fp32 and over 7 s in bf16 on a 2-core AVX2 EPYC). ``ATEN_CPU_CAPABILITY=avx2`` and
``ONEDNN_MAX_CPU_ISA=AVX2`` make a bf16-capable CPU behave like that one; both variables
are read when torch starts, so each setting runs in its own child process. A setting
reproduces the slow machine when bf16 is at least 10x slower than fp32 (the issue's bar).

Each child times one single-thread matmul of the issue's shape, fp32 and bf16 alternated,
best of ``--reps`` (the machine is shared: the minimum is the least disturbed run). The
load average is printed with each row.

    python bench/cpu_precision.py
    python bench/cpu_precision.py --reps 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
SHAPE = (512, 2048, 2048)  # issue 23: 512x2048 @ 2048x2048


def child(reps: int) -> dict:
    """Runs inside the child process: best seconds per dtype, alternated."""
    import torch

    torch.set_num_threads(1)
    m, k, n = SHAPE
    gen = torch.Generator().manual_seed(0)
    a32, b32 = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
    pairs = {"fp32": (a32, b32), "bf16": (a32.bfloat16(), b32.bfloat16())}
    best = {name: float("inf") for name in pairs}
    for name, (a, b) in pairs.items():  # warm-up: oneDNN builds its kernel on first call
        a @ b
    for _ in range(reps):
        for name, (a, b) in pairs.items():
            t0 = time.perf_counter()
            a @ b
            best[name] = min(best[name], time.perf_counter() - t0)
    return {"capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            **best}


def run_setting(label: str, extra_env: dict[str, str], reps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in AVX2_ONLY} | extra_env
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, "--child", "--reps", str(reps)], env=env,
                         capture_output=True, text=True, check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    return {"setting": label, **row, "ratio": row["bf16"] / row["fp32"], "load": load}


def cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(f for f in flags if "bf16" in f or f.startswith("amx"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="timed runs per dtype (best kept)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.reps)))
        return 0

    m, k, n = SHAPE
    print(f"single-thread {m}x{k} @ {k}x{n} matmul, best of {args.reps}; "
          f"CPU bf16 flags: {', '.join(cpu_flags()) or 'none'}")
    rows = [run_setting("native", {}, args.reps),
            run_setting("AVX2-only (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2)", AVX2_ONLY,
                        args.reps)]
    print(f"{'setting':<62} {'torch capability':<17} {'fp32 s':>8} {'bf16 s':>8} {'bf16/fp32':>9} {'load':>5}")
    for r in rows:
        print(f"{r['setting']:<62} {r['capability']:<17} {r['fp32']:>8.3f} {r['bf16']:>8.3f} "
              f"{r['ratio']:>8.1f}x {r['load']:>5.2f}")
    slow = rows[1]["ratio"]
    verdict = "reproduces" if slow >= 10 else "does NOT reproduce"
    print(f"AVX2-only setting {verdict} the slow machine (bf16 {slow:.1f}x fp32; issue 23's bar: >= 10x)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
