"""Run a recipe's stages in order: stage i+1 starts from the model stage i exported.

One loop serves ``lingshu train`` and ``lingshu pipeline``. Alone, it lays the run out under
the recipe's ``output_dir`` (``recipe.resolved.yaml``, ``manifest.json``, ``metrics.jsonl``,
one folder per stage, plots); finished stages are skipped on rerun and an interrupted one
resumes from its checkpoint, so the same command continues a run after any interruption.
The pipeline passes hooks instead: ``data_for`` (each stage trains on the stage data it
built), ``around_stage`` (each stage runs inside the pipeline's cached step folder, with a
metrics file of its own) and ``after_stage`` (its evaluation).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.train.config import Recipe, StageConfig
from lingshu.train.stages import MetricsSink, StageResult, get_stage_kind, read_summary

#: ``train(output_dir, metrics) -> StageResult``: runs one stage; handed to ``around_stage``.
TrainStage = Callable[[Path, "MetricsSink | None"], StageResult]


def resolve_base_model(source: str) -> Path:
    from lingshu.models.loading import resolve_model_dir

    return resolve_model_dir(source)


def check_stage_names(recipe: Recipe, only: list[str] | None) -> None:
    """``--stage`` names the recipe does not have, as one line (a dry run checks them too,
    so a typo is caught before hours of training are planned around it)."""
    from lingshu.core.registry import did_you_mean

    names = [s.name for s in recipe.stages]
    for n in only or []:
        if n not in names:
            guess = did_you_mean(n, names)
            hint = f"did you mean {guess!r}? " if guess else ""
            raise UserError(f"--stage {n!r}: {hint}the recipe has stages {', '.join(names)}")


def run_recipe(recipe: Recipe, recipe_path: Path | None = None, overrides: list[str] | None = None, *,
               only: list[str] | None = None, stop_after: int | None = None,
               data_for: Callable[[StageConfig], Path | None] | None = None,
               around_stage: Callable[[StageConfig, TrainStage], StageResult] | None = None,
               after_stage: Callable[[StageConfig, StageResult], None] | None = None,
               ) -> dict[str, StageResult]:
    """Train every stage (or those named in ``only``); return stage name -> result.

    ``data_for(stage)``: a file the stage trains on instead of its recipe data (``None``:
    the recipe's). ``around_stage(stage, train)``: the caller runs ``train(output_dir,
    metrics)`` where it wants and returns its result (it may also return a stored one); with
    it, the caller owns the folders and the metrics, and no run directory is written.
    ``after_stage(stage, result)``: called after each stage that finished.
    ``stop_after``: end each process's work after that many optimizer steps (tests).
    """
    check_stage_names(recipe, only)
    if around_stage is not None:
        return _run_stages(recipe, around_stage, data_for, after_stage, only, stop_after)

    from lingshu.train.rundir import MetricsLog, plot_metrics, write_run_header

    run_dir = Path(recipe.output_dir)
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        write_run_header(run_dir, recipe, recipe_path, overrides or [])
    metrics = MetricsLog(run_dir, list(recipe.loggers), enabled=main)
    offset = [0]  # optimizer steps of the stages before: one step axis across the run

    def in_run_dir(stage: StageConfig, train: TrainStage) -> StageResult:
        result = train(run_dir / stage.name, metrics, offset[0])
        offset[0] += _steps_done(run_dir / stage.name)
        return result

    def skipped(stage: StageConfig) -> None:
        offset[0] += _steps_done(run_dir / stage.name)

    try:
        return _run_stages(recipe, in_run_dir, data_for, after_stage, only, stop_after,
                           skipped=skipped, run_dir=run_dir)
    finally:
        metrics.close()
        if main and (run_dir / "metrics.jsonl").is_file():
            plot_metrics(run_dir)


def _run_stages(recipe: Recipe, around: Callable[..., StageResult],
                data_for: Callable[[StageConfig], Path | None] | None,
                after_stage: Callable[[StageConfig, StageResult], None] | None,
                only: list[str] | None, stop_after: int | None, *,
                skipped: Callable[[StageConfig], None] | None = None,
                run_dir: Path | None = None) -> dict[str, StageResult]:
    """The loop itself: each stage from the previous stage's exported model."""
    results: dict[str, StageResult] = {}
    model_path = resolve_base_model(recipe.base_model)
    for stage in recipe.stages:
        if only and stage.name not in only:  # a stage trained earlier still feeds the next
            prev = run_dir / stage.name / "final" if run_dir is not None else None
            if prev is not None and prev.is_dir():
                model_path = prev
            if skipped is not None:
                skipped(stage)
            continue
        data = data_for(stage) if data_for is not None else None
        config = stage.with_data(data) if data is not None else stage
        runner = get_stage_kind(stage.kind).runner

        def train(output_dir: Path, metrics: MetricsSink | None, step_offset: int = 0,
                  config: StageConfig = config, model_path: Path = model_path) -> StageResult:
            return runner(config, model_path=Path(model_path), output_dir=Path(output_dir),
                          seed=recipe.seed, precision=recipe.precision, metrics=metrics,
                          global_step_offset=step_offset, stop_after=stop_after)

        result = around(stage, train)
        results[stage.name] = result
        if not result.complete:  # stopped on purpose: nothing exported for the next stage
            break
        model_path = result.model_path
        if after_stage is not None:
            after_stage(stage, result)
    return results


def _steps_done(stage_dir: Path) -> int:
    return int(read_summary(stage_dir).get("steps", 0) or 0)


def stage_summaries(run_dir: Path) -> dict[str, Any]:
    """Stage name -> its ``summary.json``, for every finished stage of a run."""
    return {p.parent.name: read_summary(p.parent) for p in sorted(Path(run_dir).glob("*/summary.json"))}
