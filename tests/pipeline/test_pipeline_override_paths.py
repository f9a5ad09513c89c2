"""Pipeline recipes: a relative path typed on the command line (``lingshu pipeline --recipe
nano --set raw.manifest=mine.jsonl``) means the current folder; one written in a recipe file
means that file's folder (or data_root, for the data paths), as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from lingshu.pipeline.recipe import RECIPES_DIR, load_pipeline_recipe

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"


def _copy_inputs(folder: Path) -> None:
    """The nano recipe's sub-recipes and a raw manifest, in ``folder``."""
    folder.mkdir(exist_ok=True)
    for name in ("curation.yaml", "train.yaml"):
        shutil.copy(RECIPES_DIR / "nano" / name, folder / name)
    shutil.copy(DATA / "demo" / "images.jsonl", folder / "m.jsonl")
    (folder / "t.jsonl").write_text("")
    (folder / "bench").mkdir()


def test_relative_cli_paths_land_under_the_current_folder(tmp_path, monkeypatch):
    _copy_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    r = load_pipeline_recipe("nano", [f"data_root={DATA}", "raw.manifest=m.jsonl",
                                      "raw.text=[t.jsonl]", "evaluation.data_dir=bench",
                                      "curation=curation.yaml", "training=train.yaml",
                                      "output_dir=runs/x"])
    assert r.raw.manifest == tmp_path / "m.jsonl"
    assert r.raw.text == [tmp_path / "t.jsonl"]
    assert r.evaluation.data_dir == tmp_path / "bench"
    assert r.training.name == "nano-demo" and r.curation.name == "nano-demo-curation"
    assert r.output_dir == Path("runs/x")  # the run folder: relative to the current folder


def test_shipped_training_name_from_the_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = load_pipeline_recipe("nano", [f"data_root={DATA}", "training=nano"])
    assert r.training.name == "nano"  # the shipped training recipe, not ./nano


def test_relative_recipe_paths_stay_against_their_folders(tmp_path, monkeypatch):
    folder = tmp_path / "recipes"
    _copy_inputs(folder)
    (folder / "acc.yaml").write_text("")
    recipe = folder / "p.yaml"
    data = yaml.safe_load((RECIPES_DIR / "nano.yaml").read_text())
    data.pop("data_root")
    data.update(curation="curation.yaml", training="train.yaml",
                raw={"manifest": "m.jsonl", "text": ["t.jsonl"]},
                training_overrides=["parallelism.accelerate_config=acc.yaml"])
    data["evaluation"]["data_dir"] = "bench"
    recipe.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    r = load_pipeline_recipe(recipe, ["seed=3"])
    folder = folder.resolve()
    assert r.raw.manifest == folder / "m.jsonl" and r.raw.text == [folder / "t.jsonl"]
    assert r.evaluation.data_dir == folder / "bench"
    # written in the pipeline recipe, so against its folder; given on the command line,
    # against the current one
    assert r.training.parallelism.accelerate_config == folder / "acc.yaml"
    r = load_pipeline_recipe(recipe, ["training_overrides=[parallelism.accelerate_config=a.yaml]"])
    assert r.training.parallelism.accelerate_config == tmp_path / "a.yaml"
