"""A relative path typed on the command line means the current folder; one written in the
recipe file means the recipe's folder (``lingshu data run --recipe demo
output.dir=runs/curated`` wrote into the installed package before)."""

from __future__ import annotations

from curation_helpers import write_recipe

from lingshu.data.curate import load_recipe


def _recipe(folder):
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    return write_recipe(folder / "r.yaml", [{"name": "a", "path": "a.jsonl"}], [],
                        out="out")


def test_relative_cli_paths_land_under_the_current_folder(tmp_path, monkeypatch):
    recipe = _recipe(tmp_path / "recipes")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    r = load_recipe(recipe, ["output.dir=runs/curated", "output.work_dir=w",
                             "inputs.0.path=mine/a.jsonl", "inputs.0.image_root=imgs"])
    assert r.output_location() == str(work / "runs" / "curated")
    assert r.work_folder() == work / "w"
    assert r.inputs[0].path == str(work / "mine" / "a.jsonl")
    assert r.resolve(r.inputs[0].image_root) == work / "imgs"


def test_relative_recipe_paths_stay_against_the_recipe_folder(tmp_path, monkeypatch):
    recipe = _recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    r = load_recipe(recipe, ["output.shard_size=7"])
    assert r.output_location() == str(tmp_path / "recipes" / "out")
    assert r.work_folder() == tmp_path / "recipes" / "out" / ".work"


def test_absolute_and_url_overrides_are_kept(tmp_path, monkeypatch):
    recipe = _recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    r = load_recipe(recipe, [f"output.dir={tmp_path / 'abs'}",
                             "inputs.0.path=s3://bucket/a.jsonl"])
    assert r.output_location() == str(tmp_path / "abs")
    assert r.inputs[0].path == "s3://bucket/a.jsonl"


def test_a_whole_input_list_from_the_cli(tmp_path, monkeypatch):
    recipe = _recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    r = load_recipe(recipe, ["inputs=[{name: b, path: b.jsonl}]"])
    assert r.inputs[0].path == str(tmp_path / "b.jsonl")


def test_data_run_writes_a_relative_output_dir_under_the_current_folder(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from lingshu.cli.main import app

    recipe = _recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["data", "run", "--recipe", str(recipe),
                                   "--set", "output.dir=runs/curated"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "runs" / "curated" / "summary.json").is_file()
    assert not (tmp_path / "recipes" / "runs").exists()
