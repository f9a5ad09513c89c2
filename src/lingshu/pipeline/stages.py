"""The pipeline's side of training: each stage of ``lingshu.train.run_recipe`` runs inside a
cached step, on the stage data the pipeline built, and is evaluated in a step of its own.

These are the hooks the pipeline hands to ``run_recipe`` (``data_for``, ``around_stage``,
``after_stage``); the loop itself (stage i+1 from the model stage i exported) is training's.
A stage step's key hashes the stage's settings (its data path left out), the seed, the
precision, the previous stage's key and the content of its data file and of the images its rows
reference (issue 22), so editing stage 3
reruns stages 3 and 4 and their evaluations, nothing before.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lingshu import __version__
from lingshu.core.io import JsonlAppender, atomic_write_text, read_jsonl
from lingshu.pipeline.recipe import PipelineRecipe
from lingshu.pipeline.steps import StepResult, StepRunner, referenced_images
from lingshu.train import StageConfig, StageResult, benchmark_scores, evaluate_checkpoint


class StageMetrics:
    """The metrics sink a stage writes to (``write``; ``truncate_after`` on resume so a
    resumed curve has no repeated steps): ``<stage step>/train_metrics.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write(self, record: dict) -> None:
        with JsonlAppender(self.path) as out:
            out.write(record)

    def truncate_after(self, stage: str, step: int) -> None:
        keep = [r for r in read_jsonl(self.path) if int(r.get("step", 0)) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))

    def close(self) -> None:
        pass


def stage_key_config(stage: StageConfig) -> dict[str, Any]:
    """The stage's settings for the cache key (data paths left out: the key hashes the
    data file's content instead)."""
    d = stage.model_dump(mode="json")
    d.pop("data", None)
    d["kind"] = stage.kind
    return d


class StageSteps:
    """Runs the evaluations and the training stages as cached steps; collects the table's
    points, the evaluation folders and the stage folders for the report."""

    def __init__(self, steps: StepRunner, recipe: PipelineRecipe, stage_files: dict[str, str],
                 ev_cfg: dict[str, Any], progress: bool) -> None:
        self.steps, self.recipe, self.stage_files = steps, recipe, stage_files
        self.ev_cfg, self.progress = ev_cfg, progress
        ev = recipe.evaluation
        self.bench_files = [ev.data_dir / b.name for b in ev.benchmarks if (ev.data_dir / b.name).is_dir()]
        self.points: list[dict[str, Any]] = []
        self.eval_dirs: dict[str, Path] = {}
        self.stage_dirs: list[tuple[str, Path]] = []
        self.prev: StepResult | None = None

    def evaluate(self, label: str, model: Path, *, config: dict[str, Any],
                 after: list[StepResult]) -> None:
        ev = self.recipe.evaluation

        def run(d: Path) -> dict[str, Any]:
            metrics = evaluate_checkpoint(model, ev, d / "eval", progress=self.progress)
            return {"eval": benchmark_scores(metrics)}

        step = self.steps.run(f"eval-{label}", run, config=config, after=after, files=self.bench_files)
        self.points.append({"label": label, "eval": step.output["eval"]})
        self.eval_dirs[label] = step.dir / "eval"

    def evaluate_base(self, model: Path) -> None:
        self.evaluate("base", model, after=[], config={
            "model": self.recipe.training.base_model, "eval": self.ev_cfg, "version": __version__})

    def data_for(self, stage: StageConfig) -> Path:
        return Path(self.stage_files[stage.name])

    def around_stage(self, stage: StageConfig, train: Any) -> StageResult:
        """``train`` in the stage's step folder, unless the step's cache holds its model."""
        training = self.recipe.training

        def run(d: Path) -> dict[str, Any]:
            return {"model": str(train(d, StageMetrics(d / "train_metrics.jsonl")).model_path)}

        trained = self.steps.run(
            f"stage-{stage.name}", run,
            config={"stage": stage_key_config(stage), "seed": self.recipe.seed,
                    "precision": training.precision,
                    "base": training.base_model if self.prev is None else None, "version": __version__},
            after=[self.prev] if self.prev is not None else [],
            files=[self.data_for(stage)],
            images=referenced_images(self.data_for(stage)),
        )
        self.prev = trained
        self.stage_dirs.append((stage.name, trained.dir))
        return StageResult(stage.name, stage.kind, Path(trained.output["model"]), trained.dir)

    def after_stage(self, stage: StageConfig, result: StageResult) -> None:
        assert self.prev is not None
        self.evaluate(stage.name, result.model_path, after=[self.prev],
                      config={"eval": self.ev_cfg, "version": __version__})


def publish(model_dir: Path, dst: Path) -> Path:
    """Copy the final model folder to ``dst`` atomically (a temporary sibling, renamed)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    shutil.rmtree(tmp)
    shutil.copytree(model_dir, tmp, ignore=shutil.ignore_patterns("checkpoints", "checkpoint-*", "*.jsonl"))
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst
