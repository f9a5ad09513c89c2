"""The one stage loop (``run_recipe``) with a registered stand-in stage kind: model folders
chain through ``StageResult``s, the hooks see what the pipeline relies on, and the layering
of the training area holds (config modules import no training code; no import circle)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from lingshu.train import (
    EvalSettings,
    StageConfig,
    StageResult,
    get_stage_kind,
    load_recipe,
    register_stage_kind,
    run_recipe,
    stage_kinds,
)
from lingshu.train.evaluate import eval_config

SRC = Path(__file__).resolve().parents[2] / "src" / "lingshu"
CALLS: list[dict] = []


class EchoSource(BaseModel):
    path: Path


class EchoStage(StageConfig):
    """A stand-in stage: writes a model folder naming its input (tests only)."""

    kind: Literal["echo"] = "echo"
    data: list[EchoSource] = Field(min_length=1)


def echo_runner(config: EchoStage, *, model_path: Path, output_dir: Path, seed: int,
                precision: str = "fp32", metrics=None, global_step_offset: int = 0,
                stop_after: int | None = None) -> StageResult:
    CALLS.append({"stage": config.name, "model": str(model_path), "data": str(config.data[0].path),
                  "offset": global_step_offset, "metrics": type(metrics).__name__})
    final = Path(output_dir) / "exported"
    final.mkdir(parents=True, exist_ok=True)
    (final / "config.json").write_text(json.dumps({"from": str(model_path)}))
    summary = {"steps": 5}
    (Path(output_dir) / "summary.json").write_text(json.dumps(summary))
    return StageResult(config.name, "echo", final, Path(output_dir), summary)


if "echo" not in {k.name for k in stage_kinds()}:
    register_stage_kind("echo", EchoStage, echo_runner)


@pytest.fixture()
def echo_recipe(tmp_path) -> Path:
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    (tmp_path / "d.jsonl").write_text("{}\n")
    path = tmp_path / "echo.yaml"
    path.write_text(f"name: echo\nbase_model: {base}\noutput_dir: {tmp_path / 'run'}\nseed: 3\n"
                    "stages:\n  - {name: a, kind: echo, data: [{path: d.jsonl}]}\n"
                    "  - {name: b, kind: echo, data: [{path: d.jsonl}]}\n")
    CALLS.clear()
    return path


def test_registered_kind_validates_and_lists():
    assert {"sft", "grpo", "echo"} <= {k.name for k in stage_kinds()}
    assert get_stage_kind("echo").config_model is EchoStage


def test_stages_chain_through_results_in_the_run_dir(echo_recipe, tmp_path):
    results = run_recipe(load_recipe(echo_recipe), echo_recipe, [])
    run = tmp_path / "run"
    assert [r.model_path for r in results.values()] == [run / "a" / "exported", run / "b" / "exported"]
    # stage b starts from the folder stage a's result named (not a guessed final/)
    assert [c["model"] for c in CALLS] == [str(tmp_path / "base"), str(run / "a" / "exported")]
    assert [c["offset"] for c in CALLS] == [0, 5]  # one step axis across the run
    assert CALLS[0]["metrics"] == "MetricsLog"
    assert (run / "recipe.resolved.yaml").is_file()
    manifest = json.loads((run / "manifest.json").read_text())
    assert [f["stage"] for f in manifest["data_files"]] == ["a", "b"]
    assert manifest["git_commit"] is None or len(manifest["git_commit"]) >= 40


def test_hooks_replace_data_folder_and_follow_each_stage(echo_recipe, tmp_path):
    seen: list[tuple[str, str]] = []
    own = tmp_path / "own"

    def around(stage, train):
        return train(own / stage.name, None)

    results = run_recipe(load_recipe(echo_recipe),
                         data_for=lambda s: tmp_path / f"{s.name}.jsonl",
                         around_stage=around,
                         after_stage=lambda s, r: seen.append((s.name, str(r.model_path))))
    assert [c["data"] for c in CALLS] == [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    assert [c["offset"] for c in CALLS] == [0, 0] and CALLS[0]["metrics"] == "NoneType"
    assert seen == [("a", str(own / "a" / "exported")), ("b", str(own / "b" / "exported"))]
    assert results["b"].model_path == own / "b" / "exported"
    assert not (tmp_path / "run").exists()  # the caller owns the folders: no run directory


def test_eval_config_keeps_each_callers_values(tmp_path):
    """A stage's own eval passes only what it always passed; the pipeline's settings pass
    device, dtype, pixels, split, per-benchmark limits, profile and resamples."""
    stage = eval_config(tmp_path / "m", EvalSettings(benchmarks=["vqa-rad", "slake"], data_dir=tmp_path,
                                                     limit=5))
    assert stage.backend == "hf" and stage.backend_options == {"model": str(tmp_path / "m"), "batch_size": 8}
    assert stage.limit == 5 and stage.split is None and stage.generation.max_new_tokens == 256
    assert stage.profile == "strict" and stage.bootstrap_resamples == 1000  # the kit's defaults

    from lingshu.pipeline.recipe import Evaluation

    pipe = eval_config(tmp_path / "m", Evaluation(
        data_dir=tmp_path, benchmarks=[{"name": "lingshu-demo"}, {"name": "mmlu-med", "split": "val", "limit": 30}],
        batch_size=32, max_new_tokens=10, dtype="bfloat16", min_pixels=12544, max_pixels=12544,
        bootstrap_resamples=200))
    assert pipe.backend_options == {"model": str(tmp_path / "m"), "batch_size": 32, "device": "cpu",
                                    "dtype": "bfloat16", "min_pixels": 12544, "max_pixels": 12544}
    assert pipe.split == {"mmlu-med": "val"} and pipe.limit == {"mmlu-med": 30}
    assert pipe.generation.max_new_tokens == 10 and pipe.bootstrap_resamples == 200


def _imports(path: Path) -> set[str]:
    """Every ``lingshu.*`` module a file imports, at any depth (lazy imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lingshu"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("lingshu"))
    return out


def _module(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_config_modules_import_no_training_code():
    allowed = ("lingshu.core", "lingshu.models.loading", "lingshu.train.config")
    for f in sorted((SRC / "train" / "config").glob("*.py")):
        bad = [m for m in _imports(f) if not m.startswith(allowed)]
        assert not bad, (f.name, bad)


def test_no_import_circle_in_train():
    """Modules of the training area, edges by what each file imports (lazy imports too)."""
    files = {_module(f): f for f in (SRC / "train").rglob("*.py")}
    graph = {m: {i for i in _imports(f) if i in files and i != m} for m, f in files.items()}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join(trail[trail.index(n):] + [n]))
            if n not in state:
                visit(n, trail + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
