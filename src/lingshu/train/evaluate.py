"""Evaluate a checkpoint folder through the evaluation kit: one function for a stage's own
``eval:`` (every stage kind) and for the pipeline's evaluation after each stage.

Nothing here scores anything: the registered benchmarks load the samples, the profile
builds the prompts and scores the answers, the ``hf`` inference backend answers them, and
the kit writes its usual run folder (per-sample records, metrics with bootstrap CIs). Each
caller's settings are an :class:`~lingshu.train.config.EvalSettings`; a field left ``None``
is not passed, so the kit's default applies.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from lingshu.train.config import EvalSettings

log = logging.getLogger(__name__)


def eval_config(model: Path, settings: EvalSettings) -> Any:
    """The evaluation kit's ``EvalConfig`` for ``model`` under ``settings``."""
    from lingshu.eval import EvalConfig
    from lingshu.inference import GenerationParams

    from lingshu.models.precision import resolve_dtype_name

    options: dict[str, Any] = {"model": str(model), "batch_size": settings.batch_size}
    for key in ("device", "dtype", "min_pixels", "max_pixels"):
        if getattr(settings, key):
            options[key] = getattr(settings, key)
    if settings.device and settings.dtype:  # auto: bf16 where that device computes in it
        options["dtype"] = resolve_dtype_name(settings.dtype, settings.device)
    limits = {b.name: b.limit or settings.limit for b in settings.benchmarks
              if b.limit or settings.limit}
    per_benchmark = any(b.limit for b in settings.benchmarks)
    extra: dict[str, Any] = {}
    if settings.profile is not None:
        extra["profile"] = settings.profile
    if settings.bootstrap_resamples is not None:
        extra["bootstrap_resamples"] = settings.bootstrap_resamples
    return EvalConfig(
        benchmarks=settings.names,
        data_dir=settings.data_dir,
        split={b.name: b.split for b in settings.benchmarks if b.split} or None,
        limit=(limits or None) if per_benchmark else settings.limit,
        backend="hf",  # a checkpoint folder on this machine: transformers loads it as trained
        backend_options=options,
        generation=GenerationParams(max_new_tokens=settings.max_new_tokens),
        **extra,
    )


def evaluate_checkpoint(model: str | Path, settings: EvalSettings, out_dir: Path, *,
                        progress: bool = True) -> dict[str, Any]:
    """Evaluate ``model`` (a Hugging Face folder or alias) into ``out_dir``; return the kit's
    metrics (``{"benchmarks": {name: {...}}, "macro_accuracy": ...}``)."""
    from lingshu.eval import run_eval

    result = run_eval(eval_config(Path(model), settings), Path(out_dir), progress=progress)
    return result.metrics


def benchmark_scores(metrics: dict[str, Any]) -> dict[str, Any]:
    """Per benchmark: n, accuracy, its CI, the invalid rate and accuracy by question kind."""
    out: dict[str, Any] = {}
    for name, m in metrics["benchmarks"].items():
        out[name] = {k: m.get(k) for k in ("n", "accuracy", "ci_low", "ci_high", "invalid_rate")}
        for key, groups in (m.get("breakdowns") or {}).items():
            if key == "question":
                out[name]["by_question"] = {v: g.get("accuracy") for v, g in groups.items()}
    return out


def evaluate_stage(final: Path, name: str, settings: EvalSettings, stage_dir: Path, metrics: Any,
                   step: int) -> dict:
    """A stage's own ``eval:`` of its exported model into ``stage_dir/eval``; the headline
    scores (accuracy, invalid rate, macro accuracy) also go to ``metrics`` at ``step``."""
    scores = _numeric(evaluate_checkpoint(final, settings, stage_dir / "eval"))
    if metrics is not None:
        rec = {"stage": name, "step": step, "global_step": step}
        for k, v in _flatten(scores).items():  # headline scores only; the rest is in eval/
            parts = k.split("/")
            headline = (len(parts) == 3 and parts[0] == "benchmarks" and parts[2] in ("accuracy", "invalid_rate")) \
                or k == "macro_accuracy"
            if headline and not math.isnan(v):
                rec[f"eval/{k.removeprefix('benchmarks/')}"] = v
        metrics.write(rec)
    return scores


def _numeric(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {str(k): _numeric(v) for k, v in obj.items()}
        return {k: v for k, v in out.items() if v not in (None, {})}
    if isinstance(obj, bool):
        return None
    return float(obj) if isinstance(obj, (int, float)) else None


def _flatten(d: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out
