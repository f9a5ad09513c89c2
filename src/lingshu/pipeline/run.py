"""``run_pipeline``: raw -> curate -> stage data -> base evaluation -> (stage, evaluation) x N
-> final model -> report.

Each arrow is a cached step (``steps.StepRunner``): its key hashes its settings, the files
it reads and the keys of the steps it builds on. Keys are chosen so that a change reruns
exactly what it affects: the base evaluation depends on the base model and the evaluation
settings only; stage *i* depends on stage *i-1*, its own settings and the content of its
own data file, so editing stage 3 reruns stages 3 and 4 and their evaluations, not stages
1 and 2 nor curation. The stages are training's own loop (``lingshu.train.run_recipe``)
with the pipeline's hooks (``stages.StageSteps``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lingshu import __version__
from lingshu.core.io import atomic_write_json
from lingshu.pipeline import report
from lingshu.pipeline.raw import build_raw, manifest_images
from lingshu.pipeline.recipe import PipelineRecipe
from lingshu.pipeline.stage_data import leak_check, read_curated, write_stage_data
from lingshu.pipeline.stages import StageSteps, publish
from lingshu.pipeline.steps import StepResult, StepRunner, row_images


def _licenses(manifest: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            lic = row.get("license")
            if lic and row["source"] not in out:
                out[row["source"]] = lic
    return out


def run_pipeline(recipe: PipelineRecipe, *, progress: bool = True, console: Any = None) -> dict[str, Any]:
    """Run (or resume, or reuse) every step; return the report's content and paths."""
    from rich.console import Console
    from rich.markup import escape

    from lingshu.models import resolve_model_dir
    from lingshu.models.precision import resolve_precision, training_device
    from lingshu.train import run_recipe

    console = console or Console()
    run_dir = Path(recipe.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "pipeline.resolved.json", recipe.model_dump(mode="json"))
    steps = StepRunner(run_dir, log=lambda m: console.print(f"[bold]pipeline[/] {escape(m)}"))
    t0 = time.time()
    # keys and configs hold what ran: "auto" resolved on this machine (bf16 here, fp32 there)
    evaluation = _resolved_evaluation(recipe)
    training = recipe.training.model_copy(
        update={"precision": resolve_precision(recipe.training.precision, training_device())})
    recipe = recipe.model_copy(update={"evaluation": evaluation, "training": training})
    ev = recipe.evaluation
    ev_cfg = ev.model_dump(mode="json", exclude={"data_dir"})

    raw = _raw_step(steps, recipe)
    curated = _curate_step(steps, recipe, raw)
    data = _data_step(steps, recipe, curated, ev_cfg)

    stages = StageSteps(steps, recipe, data.output["files"], ev_cfg, progress)
    model = Path(resolve_model_dir(training.base_model))
    if ev.baseline:
        stages.evaluate_base(model)
    results = run_recipe(training, data_for=stages.data_for, around_stage=stages.around_stage,
                         after_stage=stages.after_stage)
    if results:
        model = list(results.values())[-1].model_path

    # the final model, then the report
    prev = stages.prev
    final = steps.run("final", lambda d: {"model": str(publish(model, recipe.final_dir))},
                      config={"final": str(recipe.final_dir)}, after=[prev] if prev else [])
    if not (Path(final.output["model"]) / "config.json").is_file():  # deleted by hand: copy again
        publish(model, recipe.final_dir)
    benchmarks = ev.names
    paired: dict[str, Any] = {}
    if "base" in stages.eval_dirs and len(stages.points) > 1:
        last = list(stages.eval_dirs)[-1]
        for b in benchmarks:
            paired[b] = report.paired_difference(stages.eval_dirs["base"], stages.eval_dirs[last], b)
    curves = report.read_curves(stages.stage_dirs)
    gates = report.check_gates(recipe.gates, stages.points, paired, curves)
    steps_info = [{"step": r.name, "cached": r.cached, "seconds": r.seconds,
                   "cpu_seconds": r.cpu_seconds} for r in steps.results]
    paths = report.write_report(run_dir, stages.points, benchmarks, curves, paired, gates, {
        "steps": steps_info, "data": data.output, "curation": curated.output,
        "final_model": str(recipe.final_dir), "seconds_this_run": round(time.time() - t0, 1),
    })
    return {"points": stages.points, "paired": paired, "gates": gates, "steps": steps_info,
            "final_model": Path(recipe.final_dir), "report": paths, "benchmarks": benchmarks}


def _resolved_evaluation(recipe: PipelineRecipe) -> Any:
    """The evaluation settings with ``dtype: auto`` resolved for its device (the cache keys
    and the saved configs hold what ran)."""
    from lingshu.models.precision import resolve_dtype_name

    ev = recipe.evaluation
    return ev.model_copy(update={"dtype": resolve_dtype_name(ev.dtype, ev.device or "cpu")})


def _raw_step(steps: StepRunner, recipe: PipelineRecipe) -> StepResult:
    """Raw data -> conversations with labels."""
    return steps.run(
        "raw",
        lambda d: build_raw(recipe.raw.manifest, recipe.raw.text, d,
                            limit_per_source=recipe.raw.limit_per_source,
                            include_heldout=recipe.raw.include_heldout),
        config={"raw": recipe.raw.model_dump(mode="json", exclude={"manifest", "text"}),
                "version": __version__},
        files=[recipe.raw.manifest, *recipe.raw.text],
        images=manifest_images(recipe.raw.manifest),
    )


def _curate_step(steps: StepRunner, recipe: PipelineRecipe, raw: StepResult) -> StepResult:
    """Curation (filters, dedup, decontamination, template VQA) of the raw step's files."""
    ev_dir = recipe.evaluation.data_dir
    licenses = _licenses(recipe.raw.manifest)
    key = recipe.curation.model_dump(mode="json", exclude={"inputs", "base_dir"})
    key["output"].pop("dir", None)  # the step's own folder
    return steps.run(
        "curate",
        lambda d: _curate(recipe, raw.output["files"], licenses, d),
        config={"curation": key, "version": __version__, "benchmarks_dir": str(ev_dir)},
        after=[raw],
        # decontamination reads these benchmarks' files and images: an edit there reruns it
        files=[ev_dir / name for name in _decontamination_benchmarks(recipe) if (ev_dir / name).is_dir()],
    )


def _decontamination_benchmarks(recipe: PipelineRecipe) -> list[str]:
    """The benchmarks the curation recipe decontaminates against (the demo's by default)."""
    names = [b for op in recipe.curation.ops if op.op == "decontaminate"
             for b in (op.params.get("benchmarks") or [])]
    return sorted(set(names) | {"lingshu-demo"})


def _curate(recipe: PipelineRecipe, raw_files: dict[str, str], licenses: dict[str, str],
            out_dir: Path) -> dict[str, Any]:
    """The curation recipe on the raw step's JSONL files, into ``out_dir`` (curation's own
    run layout). Images are referenced, not copied, unless the recipe says otherwise."""
    from lingshu.data import Recipe as CurationRecipe
    from lingshu.data import run_recipe

    curation = recipe.curation
    inputs = [{"name": name, "path": path, "format": "jsonl", "task": "text" if name == "text" else "vqa",
               "license": licenses.get(name, "as given by the source; not stated")}
              for name, path in raw_files.items()]
    output = curation.output.model_dump()
    output["dir"] = Path(out_dir)
    if "images" not in curation.output.model_fields_set:
        output["images"] = "reference"
    result = run_recipe(CurationRecipe.model_validate(
        {**curation.model_dump(), "inputs": inputs, "output": output}))
    return {"data_dir": str(Path(out_dir) / "data"), "kept": result.kept,
            "excluded": result.excluded, "excluded_by_op": dict(result.by_op)}


def _data_step(steps: StepRunner, recipe: PipelineRecipe, curated: StepResult,
               ev_cfg: dict[str, Any]) -> StepResult:
    """Per-stage data, and the leak check against every evaluation image."""
    ev = recipe.evaluation

    def run(d: Path) -> dict[str, Any]:
        out = write_stage_data(Path(curated.output["data_dir"]), recipe.stage_data, d, recipe.seed)
        images = {im for r in read_curated(Path(curated.output["data_dir"])) for im in row_images(r)}
        multimodal = [(b.name, b.split) for b in ev.benchmarks if _is_multimodal(b.name)]
        check = leak_check(images, ev.data_dir, multimodal, d / "leak_check.json")
        out["leak_check"] = {k: v for k, v in check.items() if k != "leaks"}
        return out

    return steps.run("data", run,
                     config={"stage_data": {k: v.model_dump(mode="json") for k, v in recipe.stage_data.items()},
                             "seed": recipe.seed, "eval": ev_cfg},
                     after=[curated])


def _is_multimodal(name: str) -> bool:
    from lingshu.eval import get_benchmark

    return get_benchmark(name).modality == "multimodal"
