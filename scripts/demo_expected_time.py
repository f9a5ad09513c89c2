"""Print how long `make demo` should take on this machine, before it starts (issue 23).

The demo's time depends above all on whether the CPU computes in bf16: precision ``auto``
trains and evaluates in bf16 where it does (AVX512-BF16, AMX) and in fp32 elsewhere
(``lingshu.models.precision``). The figures are the measured `make demo` runs in
docs/performance.md, both on 2 cores with empty caches; more idle cores go faster, a loaded
machine slower.

    python scripts/demo_expected_time.py
"""

from __future__ import annotations

import os

# precision -> (minutes, what was measured); docs/performance.md "The demo recipe of issue 23"
MEASURED = {
    "bf16": (9, "8 min 05 s measured on 2 idle cores of a CPU with AVX512-BF16 (torch: AVX512)"),
    "fp32": (15, "14 min 03 s measured by `make demo` on a clean clone with empty caches, 2 idle cores "
             "limited to AVX2 kernels (torch: AVX2), fp32 (12 min 38 s in bench/demo_phases.py); "
             "an older or slower AVX2 CPU takes longer"),
}


def main() -> int:
    from lingshu.models.precision import decide, training_device

    device = training_device()
    decision = decide(device)
    cores = os.cpu_count() or 1
    minutes, source = MEASURED[decision.precision]
    where = "this GPU" if device == "cuda" else f"this CPU ({cores} cores)"
    print(f"make demo on {where}: {decision.reason}")
    if device == "cuda":
        print("expected: the CPU figures below are an upper bound; training runs on the GPU")
    print(f"expected time: about {minutes} minutes ({source}; "
          f"{'more idle cores: less' if cores > 2 else 'other work on the machine: more'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
