"""Every shipped recipe loads (ops and parameters valid); decontamination is on by default."""

from __future__ import annotations

import json

import pytest

from lingshu.data.curate import load_recipe, shipped_recipes

RECIPES = list(shipped_recipes().values())


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads_with_decontamination(path):
    r = load_recipe(path)
    assert "decontaminate" in [o.op for o in r.ops]


def test_demo_runs_offline(tmp_path):
    r = load_recipe(RECIPES[[p.stem for p in RECIPES].index("demo")])
    r = r.model_copy(update={
        "output": r.output.model_copy(update={"dir": tmp_path / "o", "plots": False}),
        "inputs": [i.model_copy(update={"limit": 40}) for i in r.inputs]})
    from lingshu.data.curate import run_recipe

    res = run_recipe(r)
    assert res.kept > 0
    # the image-folder rows all ask "Describe this image." of different images: text_dedup
    # keys them by their images, so none is a duplicate (before, all but one were)
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["sources"]["rad-images"]["read"] == 40
    assert "text_dedup" not in res.by_op
