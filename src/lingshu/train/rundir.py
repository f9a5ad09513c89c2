"""The run directory: what was run (resolved recipe, manifest), how it went (metrics JSONL,
PNG plots) and optional TensorBoard / W&B mirrors when those packages are installed.

Layout::

    <output_dir>/
      recipe.resolved.yaml   manifest.json   metrics.jsonl   plots/*.png
      <stage>/checkpoints/step-N/  <stage>/final/  <stage>/exclusions.jsonl
      <stage>/summary.json   <stage>/eval/
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from lingshu.core.io import JsonlAppender, atomic_write_json, atomic_write_text, read_jsonl
from lingshu.core.manifest import file_record, run_manifest

log = logging.getLogger(__name__)


def write_run_header(run_dir: Path, recipe: Any, recipe_path: Path | None, overrides: list[str]) -> None:
    """recipe.resolved.yaml and manifest.json (the shared run manifest: versions, git commit,
    hardware, command) with the sha256 of every data file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = recipe.model_dump(mode="json")
    resolved["stages"] = [s.model_dump(mode="json") for s in recipe.stages]
    atomic_write_text(
        run_dir / "recipe.resolved.yaml",
        f"# resolved from {recipe_path} with overrides {overrides}\n" + yaml.safe_dump(resolved, sort_keys=False),
    )
    files = [file_record(p, stage=s.name) for s in recipe.stages for p in s.data_files() if p.is_file()]
    atomic_write_json(run_dir / "manifest.json", run_manifest(
        recipe=str(recipe_path) if recipe_path is not None else None, overrides=overrides,
        data_files=files))


class MetricsLog:
    """metrics.jsonl (always) plus TensorBoard / W&B when requested and installed."""

    def __init__(self, run_dir: Path, loggers: list[str] | None = None, enabled: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled
        self._out = JsonlAppender(self.path) if enabled else None
        self._tb = self._wandb = None
        for name in loggers or []:
            if not enabled:
                break
            try:
                if name == "tensorboard":
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
                elif name == "wandb":
                    import wandb

                    self._wandb = wandb.init(dir=str(run_dir), resume="allow")
            except ImportError:
                log.warning("%s logging requested but not installed; metrics.jsonl only", name)

    def truncate_after(self, stage: str, step: int) -> None:
        """Drop lines of ``stage`` past ``step`` (written after the checkpoint we resume)."""
        if not self.enabled:
            return
        self._out.close()
        rows = [r for r in read_jsonl(self.path) if not (r.get("stage") == stage and r.get("step", 0) > step)]
        atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        self._out = JsonlAppender(self.path)

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        self._out.write(record)
        step = record.get("global_step", record.get("step", 0))
        scalars = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(f"{record.get('stage', '')}/{k}", v, step)
        if self._wandb is not None:
            self._wandb.log({f"{record.get('stage', '')}/{k}": v for k, v in scalars.items()}, step=step)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def plot_metrics(run_dir: Path) -> list[Path]:
    """loss.png, lr.png, grad_norm.png (and reward / eval plots when those keys exist)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(read_jsonl(Path(run_dir) / "metrics.jsonl"))
    out_dir = Path(run_dir) / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    keysets = {
        "loss": lambda k: k == "loss",
        "lr": lambda k: k.startswith("lr/"),
        "grad_norm": lambda k: k == "grad_norm",
        "rewards": lambda k: k.startswith("reward"),
        "eval": lambda k: k.startswith("eval/"),
    }
    for name, pick in keysets.items():
        series: dict[str, tuple[list, list]] = {}
        for r in rows:
            for k, v in r.items():
                if pick(k) and isinstance(v, (int, float)):
                    xs, ys = series.setdefault(f"{r.get('stage', '')} {k}", ([], []))
                    xs.append(r.get("global_step", r.get("step", 0)))
                    ys.append(v)
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        for label, (xs, ys) in series.items():
            ax.plot(xs, ys, label=label, marker="o" if len(xs) < 3 else None)
        ax.set_xlabel("optimizer step (all stages)")
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        p = out_dir / f"{name}.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        written.append(p)
    return written
