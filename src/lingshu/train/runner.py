"""Run a recipe's stages in order; stage i+1 starts from stage i's exported ``final/``.

Finished stages are skipped on rerun and an interrupted one resumes from its checkpoint,
so the same command continues a run after any interruption.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.train.recipe import Recipe, stage_name
from lingshu.train.stage_kinds import get_stage_kind, kind_of


def resolve_base_model(source: str) -> Path:
    from lingshu.models.loading import resolve_model_dir

    return resolve_model_dir(source)


def run_recipe(recipe: Recipe, recipe_path: Path, overrides: list[str], *, only: list[str] | None = None,
               stop_after: int | None = None) -> dict[str, Path]:
    """Train every stage (or those named in ``only``); return stage name -> final folder."""
    import os

    from lingshu.train.rundir import MetricsLog, plot_metrics, write_run_header

    run_dir = Path(recipe.output_dir)
    names = [stage_name(s) for s in recipe.stages]
    for n in only or []:
        if n not in names:
            raise UserError(f"--stage {n!r}: the recipe has stages {', '.join(names)}")
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        write_run_header(run_dir, recipe, recipe_path, overrides)
    metrics = MetricsLog(run_dir, recipe_loggers(recipe), enabled=main)
    finals: dict[str, Path] = {}
    model_path = resolve_base_model(recipe.base_model)
    offset = 0
    try:
        for stage in recipe.stages:
            name = stage_name(stage)
            stage_dir = run_dir / name
            if only and name not in only:
                prev = stage_dir / "final"
                if prev.is_dir():
                    model_path = prev
                offset += _steps_done(stage_dir)
                continue
            kind = get_stage_kind(kind_of(stage))
            final = kind.runner(stage, model_path=model_path, output_dir=stage_dir, seed=recipe.seed,
                                precision=recipe.precision, metrics=metrics, global_step_offset=offset,
                                stop_after=stop_after)
            finals[name] = Path(final)
            model_path = Path(final)
            offset += _steps_done(stage_dir)
    finally:
        metrics.close()
        if main and (run_dir / "metrics.jsonl").is_file():
            plot_metrics(run_dir)
    return finals


def recipe_loggers(recipe: Recipe) -> list[str]:
    return list(getattr(recipe, "loggers", []) or [])


def _steps_done(stage_dir: Path) -> int:
    p = stage_dir / "summary.json"
    if p.is_file():
        try:
            return int(json.loads(p.read_text()).get("steps", 0))
        except (ValueError, OSError):
            return 0
    return 0


def stage_summaries(run_dir: Path) -> dict[str, Any]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(Path(run_dir).glob("*/summary.json"))}
