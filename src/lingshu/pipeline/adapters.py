"""The pipeline's only contact with curation and training: their public entry points.

Curation: ``lingshu.data.curate.parse_recipe`` + ``run_recipe`` on the user's curation
recipe, with its ``inputs`` set to the raw step's files and its ``output.dir`` to the
pipeline's step folder. Training: ``lingshu.train.load_recipe`` for the stage list and the
stage-kind registry (``lingshu.train.stage_kinds``) to run each stage exactly as ``lingshu
train`` runs it (``sft`` stages on the supervised loop, ``grpo`` on TRL), with the stage's
``data`` replaced by the pipeline's stage data.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from lingshu.core.errors import UserError
from lingshu.core.io import JsonlAppender, atomic_write_text
from lingshu.core.io import read_jsonl as _read_jsonl


# ---- curation ------------------------------------------------------------------------------


def curation_config(recipe_path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(recipe_path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise UserError(f"{recipe_path}: expected a mapping with ops (and optional mixtures)")
    if data.get("inputs"):
        raise UserError(f"{recipe_path}: inputs are set by the pipeline (its raw step); remove "
                        "them from the curation recipe used in a pipeline")
    return data


def run_curation(recipe_path: Path, raw_files: dict[str, str], licenses: dict[str, str],
                 out_dir: Path, benchmarks_dir: Path | None = None) -> dict[str, Any]:
    """Curate the raw step's JSONL files into ``out_dir`` (curation's own run layout).
    A ``decontaminate`` op without ``data_dir`` checks against ``benchmarks_dir`` (the
    pipeline's evaluation data)."""
    from lingshu.data import parse_recipe, run_recipe

    data = curation_config(recipe_path)
    for op in data.get("ops") or []:
        if isinstance(op, dict) and op.get("op") == "decontaminate" and benchmarks_dir is not None:
            params = op.get("params") if isinstance(op.get("params"), dict) else op
            params.setdefault("data_dir", str(benchmarks_dir))
    data["inputs"] = [
        {"name": name, "path": path, "format": "jsonl", "task": "text" if name == "text" else "vqa",
         "license": licenses.get(name, "as given by the source; not stated")}
        for name, path in raw_files.items()
    ]
    output = dict(data.get("output") or {})
    output["dir"] = str(out_dir)
    output.setdefault("images", "reference")
    data["output"] = output
    recipe = parse_recipe(data, Path(recipe_path).parent.resolve(), where=str(recipe_path))
    result = run_recipe(recipe)
    return {"data_dir": str(Path(out_dir) / "data"), "kept": result.kept,
            "excluded": result.excluded, "excluded_by_op": dict(result.by_op)}


# ---- training ------------------------------------------------------------------------------


def load_training(recipe_path: Path, overrides: list[str]) -> Any:
    """The training recipe, validated, data files not required (the pipeline supplies them)."""
    from lingshu.train import load_recipe

    return load_recipe(recipe_path, overrides, check_files=False)


def stage_name(stage: Any) -> str:
    from lingshu.train.recipe import stage_name as _name

    return _name(stage)


def with_data(stage: Any, path: Path) -> Any:
    """A copy of ``stage`` training on ``path`` only (and evaluated by the pipeline, not by
    the stage itself)."""
    source_type = type(stage.data[0]) if stage.data else None
    item = source_type(path=path) if source_type is not None and source_type is not dict else {"path": str(path)}
    update: dict[str, Any] = {"data": [item]}
    if "eval" in type(stage).model_fields:
        update["eval"] = None
    copy = stage.model_copy(update=update, deep=True)
    for attr in ("stage_name", "stage_kind"):  # set by the stage-kind registry, not fields
        if hasattr(stage, attr):
            object.__setattr__(copy, attr, getattr(stage, attr))
    return copy


def stage_config_json(stage: Any) -> dict[str, Any]:
    """The stage's settings for the cache key (data paths left out: the key hashes the
    data file's content instead)."""
    d = stage.model_dump(mode="json")
    d.pop("data", None)
    d["kind"] = kind_of(stage)
    return d


def kind_of(stage: Any) -> str:
    return getattr(stage, "kind", None) or getattr(stage, "stage_kind", "sft")


class StageMetrics:
    """The metrics sink the supervised loop writes to (``write``; ``truncate_after`` on
    resume so a resumed curve has no repeated steps): ``<stage>/train_metrics.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write(self, record: dict) -> None:
        with JsonlAppender(self.path) as out:
            out.write(record)

    def truncate_after(self, stage: str, step: int) -> None:
        import json

        keep = [r for r in _read_jsonl(self.path) if int(r.get("step", 0)) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))

    def close(self) -> None:
        pass


def run_stage(stage: Any, *, model_path: Path, out_dir: Path, seed: int, precision: str) -> Path:
    """Run one training stage; return the folder of the model it produced."""
    from lingshu.train.stage_kinds import get_stage_kind

    kind = get_stage_kind(kind_of(stage))
    result = kind.runner(stage, model_path=Path(model_path), output_dir=Path(out_dir), seed=seed,
                         precision=precision, metrics=StageMetrics(Path(out_dir) / "train_metrics.jsonl"))
    if isinstance(result, (str, Path)) and (Path(result) / "config.json").is_file():
        return Path(result)
    for cand in (Path(out_dir) / "final", Path(out_dir)):
        if (cand / "config.json").is_file():
            return cand
    raise UserError(f"stage {stage_name(stage)}: finished without a model folder in {out_dir}")


def base_model_dir(source: str) -> Path:
    from lingshu.models import resolve_model_dir

    return Path(resolve_model_dir(source))


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
