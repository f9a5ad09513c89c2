"""The end-to-end pipeline: raw data -> curation -> the four training stages, evaluated
after each -> the final model, with one table and one plot across stages.

    from lingshu.pipeline import load_pipeline_recipe, run_pipeline
    run_pipeline(load_pipeline_recipe("nano"))   # a shipped recipe, or a YAML file

Every step is cached by the hash of its inputs and settings (see ``steps``); the command is
``lingshu pipeline --recipe NAME|FILE``. The stages run on training's own loop
(``lingshu.train.run_recipe``) with the pipeline's hooks. See docs/pipeline.md.
"""

from lingshu.pipeline.recipe import (
    PIPELINE_RECIPES,
    PipelineRecipe,
    load_pipeline_recipe,
    resolve_recipe_path,
    shipped_recipes,
)
from lingshu.pipeline.steps import StepResult, StepRunner


def run_pipeline(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - re-export, lazy import
    """See :func:`lingshu.pipeline.run.run_pipeline`."""
    from lingshu.pipeline.run import run_pipeline as _run

    return _run(*args, **kwargs)


__all__ = ["PIPELINE_RECIPES", "PipelineRecipe", "StepResult", "StepRunner", "load_pipeline_recipe",
           "resolve_recipe_path", "run_pipeline", "shipped_recipes"]
