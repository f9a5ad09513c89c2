"""``run_pipeline``: raw -> curate -> stage data -> base evaluation -> (stage, evaluation) x N
-> final model -> report.

Each arrow is a cached step (``steps.StepRunner``): its key hashes its settings, the files
it reads and the keys of the steps it builds on. Keys are chosen so that a change reruns
exactly what it affects: the base evaluation depends on the base model and the evaluation
settings only; stage *i* depends on stage *i-1*, its own settings and the content of its
own data file, so editing stage 3 reruns stages 3 and 4 and their evaluations, not stages
1 and 2 nor curation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lingshu import __version__
from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json
from lingshu.models.precision import resolve_dtype_name, resolve_precision, training_device
from lingshu.pipeline import adapters, report
from lingshu.pipeline.evaluate import evaluate_model, paired_difference
from lingshu.pipeline.raw import build_raw
from lingshu.pipeline.recipe import PipelineRecipe
from lingshu.pipeline.stage_data import leak_check, read_curated, write_stage_data
from lingshu.pipeline.steps import StepRunner


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

    console = console or Console()
    run_dir = Path(recipe.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "pipeline.resolved.json", recipe.model_dump(mode="json"))
    from rich.markup import escape

    steps = StepRunner(run_dir, log=lambda m: console.print(f"[bold]pipeline[/] {escape(m)}"))
    t0 = time.time()
    ev = recipe.evaluation
    ev_cfg = ev.model_dump(mode="json", exclude={"data_dir"})
    # keys hold what ran: "auto" resolved on this machine (bf16 here, fp32 there)
    ev_cfg["dtype"] = resolve_dtype_name(ev.dtype, "cpu")
    bench_files = [ev.data_dir / b.name for b in ev.benchmarks if (ev.data_dir / b.name).is_dir()]

    # the training recipe is validated before any work starts
    training = adapters.load_training(recipe.training, recipe.training_overrides)
    precision = resolve_precision(training.precision, training_device())
    names = [adapters.stage_name(s) for s in training.stages]
    missing = [n for n in names if n not in recipe.stage_data]
    unknown = [n for n in recipe.stage_data if n not in names]
    if missing or unknown:
        raise UserError(f"{recipe.training}: stage_data must name each training stage exactly "
                        f"(stages: {names}; missing: {missing}; unknown: {unknown})")

    # 1. raw data -> conversations with labels
    raw = steps.run(
        "raw",
        lambda d: build_raw(recipe.raw.manifest, recipe.raw.text, d,
                            limit_per_source=recipe.raw.limit_per_source,
                            include_heldout=recipe.raw.include_heldout),
        config={"raw": recipe.raw.model_dump(mode="json", exclude={"manifest", "text"}),
                "version": __version__},
        files=[recipe.raw.manifest, *recipe.raw.text],
    )
    # 2. curation (filters, dedup, decontamination, template VQA)
    licenses = _licenses(recipe.raw.manifest)
    curated = steps.run(
        "curate",
        lambda d: adapters.run_curation(recipe.curation, raw.output["files"], licenses, d,
                                            benchmarks_dir=ev.data_dir),
        config={"curation": adapters.curation_config(recipe.curation), "version": __version__,
                "benchmarks_dir": str(ev.data_dir)},
        after=[raw],
        files=[ev.data_dir / "lingshu-demo" / "test.jsonl"] if (ev.data_dir / "lingshu-demo").is_dir() else [],
    )
    # 3. per-stage data + leak check against every evaluation image

    def _data(d: Path) -> dict[str, Any]:
        out = write_stage_data(Path(curated.output["data_dir"]), recipe.stage_data, d, recipe.seed)
        images = {p["image"] for r in read_curated(Path(curated.output["data_dir"]))
                  for m in r.get("messages", []) if isinstance(m.get("content"), list)
                  for p in m["content"] if p.get("type") == "image"}
        multimodal = [(b.name, b.split) for b in ev.benchmarks if _is_multimodal(b.name)]
        check = leak_check(images, ev.data_dir, multimodal, d / "leak_check.json")
        out["leak_check"] = {k: v for k, v in check.items() if k != "leaks"}
        return out

    data = steps.run("data", _data,
                     config={"stage_data": {k: v.model_dump(mode="json") for k, v in recipe.stage_data.items()},
                             "seed": recipe.seed, "eval": ev_cfg},
                     after=[curated])

    # 4. base model, evaluated before training
    model = adapters.base_model_dir(training.base_model)
    points: list[dict[str, Any]] = []
    eval_dirs: dict[str, Path] = {}
    if ev.baseline:
        base_eval = steps.run(
            "eval-base", lambda d: {"eval": evaluate_model(model, ev, d / "eval", progress=progress)},
            config={"model": training.base_model, "eval": ev_cfg, "version": __version__},
            files=bench_files,
        )
        points.append({"label": "base", "eval": base_eval.output["eval"]})
        eval_dirs["base"] = base_eval.dir / "eval"

    # 5. stages, each followed by its evaluation
    prev = None
    stage_dirs: list[tuple[str, Path]] = []
    for stage in training.stages:
        name = adapters.stage_name(stage)
        data_file = Path(data.output["files"][name])
        staged = adapters.with_data(stage, data_file)
        current_model = model

        def _train(d: Path, staged: Any = staged, current_model: Path = current_model) -> dict[str, Any]:
            out = adapters.run_stage(staged, model_path=current_model, out_dir=d, seed=recipe.seed,
                                     precision=precision)
            return {"model": str(out)}

        trained = steps.run(
            f"stage-{name}", _train,
            config={"stage": adapters.stage_config_json(stage), "seed": recipe.seed,
                    "precision": precision,
                    "base": training.base_model if prev is None else None, "version": __version__},
            after=[prev] if prev is not None else [],
            files=[data_file],
        )
        model = Path(trained.output["model"])
        stage_dirs.append((name, trained.dir))
        evaluated = steps.run(
            f"eval-{name}", lambda d, m=model: {"eval": evaluate_model(m, ev, d / "eval", progress=progress)},
            config={"eval": ev_cfg, "version": __version__}, after=[trained], files=bench_files,
        )
        points.append({"label": name, "eval": evaluated.output["eval"]})
        eval_dirs[name] = evaluated.dir / "eval"
        prev = trained

    # 6. the final model, then the report
    final = steps.run("final", lambda d: {"model": str(adapters.publish(model, recipe.final_dir))},
                      config={"final": str(recipe.final_dir)}, after=[prev] if prev else [])
    if not (Path(final.output["model"]) / "config.json").is_file():  # deleted by hand: copy again
        adapters.publish(model, recipe.final_dir)
    benchmarks = [b.name for b in ev.benchmarks]
    paired: dict[str, Any] = {}
    if "base" in eval_dirs and len(points) > 1:
        last = list(eval_dirs)[-1]
        for b in benchmarks:
            paired[b] = paired_difference(eval_dirs["base"], eval_dirs[last], b)
    curves = report.read_curves(stage_dirs)
    gates = report.check_gates(recipe.gates, points, paired, curves)
    steps_info = [{"step": r.name, "cached": r.cached, "seconds": r.seconds,
                   "cpu_seconds": r.cpu_seconds} for r in steps.results]
    paths = report.write_report(run_dir, points, benchmarks, curves, paired, gates, {
        "steps": steps_info, "data": data.output, "curation": curated.output,
        "final_model": str(recipe.final_dir), "seconds_this_run": round(time.time() - t0, 1),
    })
    return {"points": points, "paired": paired, "gates": gates, "steps": steps_info,
            "final_model": Path(recipe.final_dir), "report": paths, "benchmarks": benchmarks}


def _is_multimodal(name: str) -> bool:
    from lingshu.eval.benchmarks import get_benchmark

    return get_benchmark(name).modality == "multimodal"
