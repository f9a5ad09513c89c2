"""Training recipes: a relative path typed on the command line (``lingshu train --recipe R
stages.0.data.0.path=mine.jsonl``) means the current folder; one written in the recipe
means the recipe's folder (the override used to land beside the recipe)."""

from __future__ import annotations

import yaml

from lingshu.train import load_recipe


def _recipe(folder):
    folder.mkdir()
    (folder / "d.jsonl").write_text("{}\n")
    rec = {"name": "t", "base_model": "lingshu-nano", "output_dir": "run",
           "parallelism": {"accelerate_config": "acc.yaml"},
           "stages": [{"name": "sft", "kind": "sft", "data": [{"path": "d.jsonl"}],
                       "parts": {"vision": "frozen", "merger": "frozen", "llm": 1e-5}, "max_steps": 1,
                       "eval": {"data_dir": "bench", "benchmarks": ["lingshu-demo"]}}]}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(rec))
    return path


def test_relative_cli_paths_land_under_the_current_folder(tmp_path, monkeypatch):
    path = _recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    r = load_recipe(path, ["stages.sft.data.0.path=mine.jsonl", "stages.0.eval.data_dir=b2",
                           "parallelism.accelerate_config=cfg/acc.yaml"], check_files=False)
    stage = r.stages[0]
    assert stage.data[0].path == tmp_path / "mine.jsonl"
    assert stage.eval.data_dir == tmp_path / "b2"
    assert r.parallelism.accelerate_config == tmp_path / "cfg" / "acc.yaml"


def test_a_whole_data_list_from_the_cli(tmp_path, monkeypatch):
    path = _recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    r = load_recipe(path, ["stages.0.data=[{path: a.jsonl}, {path: b.jsonl, ratio: 0.5}]"],
                    check_files=False)
    assert [d.path for d in r.stages[0].data] == [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]


def test_relative_recipe_paths_stay_against_the_recipe_folder(tmp_path, monkeypatch):
    path = _recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    r = load_recipe(path, ["stages.0.max_steps=2"])
    folder = (tmp_path / "recipes").resolve()
    assert r.stages[0].data[0].path == folder / "d.jsonl"
    assert r.stages[0].eval.data_dir == folder / "bench"
    assert r.parallelism.accelerate_config == folder / "acc.yaml"
    assert r.output_dir.as_posix() == "run"  # the run folder was always the current folder's
