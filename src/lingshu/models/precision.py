"""Compute precision chosen by hardware: ``resolve_precision("auto", device) -> "bf16" | "fp32"``.

Why: bf16 is faster than fp32 only where the hardware computes in it. On a CPU with
AVX512-BF16 or AMX a bf16 matmul ran 5x faster than fp32 here (bench/cpu_precision.py); on an
AVX2-only CPU torch emulates bf16 and the same matmul ran over 20x slower (issue 23, a 2-core
AMD EPYC) or 300x slower (this CPU limited to AVX2 kernels). A recipe that hard-codes bf16 is
fast on one laptop and unusable on the next, so ``auto`` decides per machine:

- CUDA: bf16 where the GPU supports it (``torch.cuda.is_bf16_supported()``), else fp32
  (fp16 needs loss scaling and stays an explicit choice).
- CPU: fp32 when ``/proc/cpuinfo`` lists no bf16 instruction set (``avx512_bf16``,
  ``amx_bf16``) — the common laptop, no measurement needed. Otherwise a tiny measured probe
  (a 64x512 @ 512x512 matmul, about a second at worst) decides, because the flags alone can
  lie: ``ONEDNN_MAX_CPU_ISA=AVX2`` (or a torch build without the kernels) leaves them set
  while bf16 runs emulated. bf16 is chosen only when it ran clearly faster (< 0.8x fp32's
  time): where the two are close, fp32 is as fast and rounds less.

The probe's verdict is cached per machine and setting in ``$LINGSHU_CACHE/precision.json``
(else ``~/.cache/lingshu/``), keyed by the CPU model, its bf16 flags, torch's version and
capability and the ISA-limiting environment variables. The choice and its reason are
printed once per process ("fp32: this CPU has no bf16 instructions").
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

#: bf16 instruction sets in /proc/cpuinfo's flags (x86: AVX512-BF16, AMX-BF16).
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: What makes a bf16-capable CPU behave like an AVX2-only one (issue 23): torch's own kernels,
#: oneDNN's and MKL's. The first two are what the issue names; MKL's fp32 GEMM ignores them
#: (0.079 s -> 0.090 s for the issue's matmul with it, so it matters little).
AVX2_ONLY_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                 "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
#: bf16 must take less than this share of fp32's time to be chosen on a CPU.
BF16_MAX_RATIO = 0.8
_PROBE_SHAPE = (64, 512, 512)
CPUINFO = Path("/proc/cpuinfo")
_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_ANNOUNCED: set[str] = set()
_DECIDED: dict[str, "Decision"] = {}


@dataclass(frozen=True)
class Decision:
    """What ``auto`` resolves to on a device, and the one-line reason shown to the user."""

    precision: str  # "bf16" | "fp32"
    reason: str


def to_dtype_name(precision: str) -> str:
    """``bf16`` -> ``bfloat16`` (the models layer's dtype names)."""
    return _DTYPES[precision]


def from_dtype_name(dtype: str) -> str:
    """``bfloat16`` -> ``bf16``; ``auto`` stays ``auto``."""
    return {v: k for k, v in _DTYPES.items()}.get(dtype, dtype)


def resolve_precision(choice: str, device: str = "cpu", *, announce: bool = True) -> str:
    """``auto`` -> ``bf16`` or ``fp32`` for ``device`` (``cpu``, ``cuda``, ``cuda:N``);
    any other choice is returned as given. The reason is printed once per process."""
    if choice != "auto":
        if choice == "bf16" and _kind(device) == "cpu" and announce:
            _warn_slow_bf16()
        return choice
    decision = decide(device)
    if announce and decision.reason not in _ANNOUNCED:
        _ANNOUNCED.add(decision.reason)
        print(f"precision auto -> {decision.reason}", file=sys.stderr, flush=True)
    return decision.precision


def resolve_dtype_name(dtype: str, device: str = "cpu", *, announce: bool = True) -> str:
    """The same for the models layer's dtype names: ``auto`` -> ``bfloat16`` or ``float32``."""
    if dtype != "auto":
        return dtype
    return to_dtype_name(resolve_precision("auto", device, announce=announce))


def training_device() -> str:
    """Where the trainers put the model: ``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def decide(device: str = "cpu") -> Decision:
    """The decision for ``device``, memoised per process and (CPU probes) cached on disk."""
    kind = _kind(device)
    if kind not in _DECIDED:
        _DECIDED[kind] = _decide_cuda() if kind == "cuda" else _decide_cpu()
    return _DECIDED[kind]


def cpu_bf16_flags() -> list[str] | None:
    """The bf16 instruction sets /proc/cpuinfo lists; ``None`` where it cannot be read
    (not Linux): then only the probe can tell."""
    info = _cpuinfo()
    if info is None:
        return None
    return [f for f in BF16_FLAGS if f in info.get("flags", "").split()]


def probe_cpu(shape: tuple[int, int, int] = _PROBE_SHAPE, reps: int = 5) -> dict[str, float]:
    """Best seconds of one single-thread ``m x k @ k x n`` matmul in fp32 and in bf16.

    Runs single-threaded (the kernel is what is compared, not the thread pool) and stops
    bf16 early once two timed runs were both over 3x fp32's best: the slow path (emulated
    bf16, 0.02-0.2 s a call for this shape) then costs three calls, not ``reps + 1``. Two,
    not one: on a shared machine a single run can be preempted (seen: 12x once, in 36
    probes that otherwise all gave 0.24-0.29x)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        m, k, n = shape
        gen = torch.Generator().manual_seed(0)
        a, b = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
        best = {"fp32": _best(a, b, reps, None), "bf16": float("inf")}
        best["bf16"] = _best(a.bfloat16(), b.bfloat16(), reps, 3 * best["fp32"])
    finally:
        torch.set_num_threads(threads)
    return best


def _best(a, b, reps: int, give_up_after: float | None) -> float:  # noqa: ANN001 (tensors)
    a @ b  # warm-up: oneDNN builds its kernel on the first call
    best = float("inf")
    for rep in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
        if give_up_after is not None and rep >= 1 and best > give_up_after:
            break
    return best


def _decide_cpu() -> Decision:
    flags = cpu_bf16_flags()
    if flags == []:
        return Decision("fp32", "fp32: this CPU has no bf16 instructions (no avx512_bf16 or "
                        "amx_bf16 in /proc/cpuinfo); bf16 would be emulated, many times slower")
    key = _machine_key(flags)
    cached = _read_cache().get(key)
    if cached:
        return Decision(**cached)
    ratio = _ratio(probe_cpu())
    if ratio >= BF16_MAX_RATIO:  # confirm a slow verdict: a preempted probe must not cost bf16
        ratio = min(ratio, _ratio(probe_cpu()))
    has = f"this CPU has {', '.join(flags)}" if flags else "this CPU's bf16 support is unknown"
    if ratio < BF16_MAX_RATIO:
        decision = Decision("bf16", f"bf16: {has}; a bf16 matmul ran {1 / ratio:.1f}x faster than fp32")
    else:
        limits = [f"{k}={os.environ[k]}" for k in AVX2_ONLY_ENV if os.environ.get(k)]
        why = f" ({', '.join(limits)})" if limits else ""
        decision = Decision("fp32", f"fp32: {has}, but a bf16 matmul ran {ratio:.1f}x fp32's "
                            f"time here{why}")
    _write_cache(key, decision)
    return decision


def _ratio(t: dict[str, float]) -> float:
    return t["bf16"] / t["fp32"]


def _decide_cuda() -> Decision:
    import torch

    name = torch.cuda.get_device_name(0)
    if torch.cuda.is_bf16_supported():
        return Decision("bf16", f"bf16: {name} computes in bf16")
    return Decision("fp32", f"fp32: {name} has no bf16 support (fp16 is an explicit choice)")


def _warn_slow_bf16() -> None:
    """bf16 asked for on a CPU known to lack it: say so once (it still runs, slowly)."""
    if cpu_bf16_flags() == [] and "warn-bf16" not in _ANNOUNCED:
        _ANNOUNCED.add("warn-bf16")
        print("precision bf16 on a CPU without bf16 instructions: emulated, expect it many "
              "times slower than fp32 (precision: auto chooses per machine)", file=sys.stderr,
              flush=True)


def _kind(device: str) -> str:
    return "cuda" if str(device).startswith("cuda") else "cpu"


def _cpuinfo() -> dict[str, str] | None:
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("flags", "model name") and key not in out:
            out[key] = value.strip()
    return out


def _machine_key(flags: list[str] | None) -> str:
    import torch

    model = (_cpuinfo() or {}).get("model name", "unknown CPU")
    env = ",".join(f"{k}={os.environ.get(k, '')}" for k in AVX2_ONLY_ENV)
    return (f"{model}|{','.join(flags or [])}|torch {torch.__version__}|"
            f"{torch.backends.cpu.get_cpu_capability()}|{env}")


def _cache_file() -> Path:
    root = os.environ.get("LINGSHU_CACHE") or Path.home() / ".cache" / "lingshu"
    return Path(root).expanduser() / "precision.json"


def _read_cache() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, decision: Decision) -> None:
    from lingshu.core.io import atomic_write_json

    data = _read_cache()
    data[key] = asdict(decision)
    try:
        atomic_write_json(_cache_file(), data)
    except OSError:  # a read-only home: the probe simply runs again next time
        pass
