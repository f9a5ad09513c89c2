"""Per-step GRPO metrics as JSONL, and PNG plots of them.

TRL's GRPOTrainer logs under its own names; ``GRPOMetricsCallback`` writes one record per
logging step with stable names (docs/training-grpo.md explains each):

- ``reward/mean``, ``reward/std``: the weighted total reward over the step's completions;
- ``reward/<name>/mean``, ``reward/<name>/std``: each reward function, unweighted;
- ``format_compliance``: share of completions whose shape passes the prompt variant's strict
  format check (computed even when the format reward is not among the recipe's rewards);
- ``kl``: mean per-token KL to the reference model (only when beta > 0: with beta = 0 no
  reference model exists);
- ``completion_length/mean|min|max``, ``completion_clipped_ratio`` (cut at the maximum);
- ``learning_rate``, ``loss``, ``grad_norm``, ``entropy``, ``step_time_s``;
- ``frac_reward_zero_std``: groups whose completions all scored the same (they carry no
  learning signal).

The file is appended with fsync per line (core.io), so a killed run keeps its curve.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from lingshu.core.io import JsonlAppender, atomic_write_text, read_jsonl

COMPLIANCE_REWARD = "format_compliance"
"""Name of the zero-weight monitor the stage adds so that compliance is always logged."""

_RENAME = {
    "reward": "reward/mean",
    "reward_std": "reward/std",
    "kl": "kl",
    "completions/mean_length": "completion_length/mean",
    "completions/min_length": "completion_length/min",
    "completions/max_length": "completion_length/max",
    "completions/clipped_ratio": "completion_clipped_ratio",
    "learning_rate": "learning_rate",
    "loss": "loss",
    "grad_norm": "grad_norm",
    "entropy": "entropy",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "epoch": "epoch",
    "step_time": "step_time_s",
}


def translate_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """TRL's log names -> ours (see module docstring); unknown keys are dropped."""
    out: dict[str, Any] = {}
    for key, value in logs.items():
        if not isinstance(value, (int, float)):
            continue
        if key in _RENAME:
            out[_RENAME[key]] = value
        elif key.startswith("rewards/"):
            _, name, stat = key.split("/", 2)
            if name == COMPLIANCE_REWARD:
                if stat == "mean":
                    out["format_compliance"] = value
            else:
                out[f"reward/{name}/{stat}"] = value
    return out


def keep_metrics_until(path: Path, step: int) -> None:
    """Drop records after ``step`` (a resumed run logs those steps again)."""
    import json

    if not Path(path).exists():
        return
    kept = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))


def step_line(stage: str, step: int, total: int, record: dict[str, Any]) -> str:
    """The plain progress line of one GRPO step (what a log file gets instead of a bar)."""
    parts = [f"{stage} step {step}/{total}", f"reward {record.get('reward/mean', float('nan')):.3f}"]
    if "format_compliance" in record:
        parts.append(f"format {record['format_compliance']:.2f}")
    if "step_time_s" in record:
        parts.append(f"{record['step_time_s']:.1f} s")
    return " ".join(parts)


def make_callback(
    path: Path,
    *,
    stage: str = "grpo",
    run_metrics: Any = None,
    step_offset: int = 0,
    start: int = 0,
    stop_after: int | None = None,
) -> Any:
    """A ``transformers.TrainerCallback`` writing translated logs to ``path`` (JSONL) and,
    when given, to the run's metrics log (``run_metrics.write``) tagged with ``stage`` and
    ``global_step = step_offset + step``. With ``stop_after``, training stops after that many
    optimizer steps past ``start`` (the resumed checkpoint's step)."""
    from transformers import TrainerCallback

    class GRPOMetricsCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if stop_after is not None and state.global_step - start >= stop_after:
                control.should_training_stop = True
                control.should_save = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if not logs or not state.is_world_process_zero:
                return
            record = translate_logs(logs)
            if "reward/mean" not in record:  # the final train summary, not a step
                return
            record["step"] = state.global_step
            with JsonlAppender(Path(path)) as out:
                out.write(record)
            if args.disable_tqdm:  # a log file, not a terminal: one plain line per step
                print(step_line(stage, state.global_step, state.max_steps, record), file=sys.stderr, flush=True)
            if run_metrics is not None:
                run_metrics.write(
                    {"stage": stage, "global_step": step_offset + state.global_step, **record}
                )

    return GRPOMetricsCallback()


def plot_metrics(metrics_path: Path, out_dir: Path) -> list[Path]:
    """``rewards.png`` (total and per-function reward means, format compliance) and
    ``training.png`` (KL, completion length, learning rate, loss). Returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = list(read_jsonl(metrics_path))
    if not records:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = [r["step"] for r in records]

    def series(key: str) -> list[float]:
        return [r.get(key, math.nan) for r in records]

    written = []
    fig, ax = plt.subplots(figsize=(7, 4))
    reward_keys = sorted(
        {k for r in records for k in r if k.startswith("reward/") and k.endswith("/mean")}
    )
    for key in reward_keys:
        label = "total (weighted)" if key == "reward/mean" else key[len("reward/") : -len("/mean")]
        ax.plot(steps, series(key), label=label, linewidth=2 if key == "reward/mean" else 1)
    if any("format_compliance" in r for r in records):
        ax.plot(steps, series("format_compliance"), "--", label="format compliance")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("mean reward")
    ax.set_title("GRPO rewards")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    written.append(out_dir / "rewards.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)

    panels = [
        ("kl", "KL to reference"),
        ("completion_length/mean", "completion length (tokens)"),
        ("learning_rate", "learning rate"),
        ("loss", "loss"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(9, 6))
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        ax.plot(steps, series(key))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("optimizer step", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    written.append(out_dir / "training.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written
