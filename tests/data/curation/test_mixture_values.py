"""Issue 22, point 12: a negative (or infinite, or all-zero) mixture ratio and a size under
1 are one line naming the field when the recipe is loaded, not a traceback mid-run."""

from __future__ import annotations

import pytest
import yaml

from lingshu.core.errors import UserError
from lingshu.data.curate import load_recipe


def _recipe(tmp_path, mixture: dict):
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "Q?", "answer": "A."}\n')
    doc = {"name": "t", "inputs": [{"name": "d", "path": "d.jsonl"}, {"name": "e", "path": "d.jsonl"}],
           "ops": [], "output": {"dir": "out"}, "mixtures": {"stage1": mixture}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path / "r.yaml"


@pytest.mark.parametrize(
    ("mixture", "field", "expected"),
    [
        ({"sources": {"d": -1.0, "e": 1.0}}, "sources.d", "greater than or equal to 0"),
        ({"sources": {"d": float("inf")}}, "sources.d", "finite"),
        ({"sources": {"d": 0.0, "e": 0.0}}, "sources", "at least one ratio must be above 0"),
        ({"sources": {"d": 1.0}, "size": -5}, "size", "greater than or equal to 1"),
        ({"sources": {"d": 1.0}, "size": 0}, "size", "greater than or equal to 1"),
    ],
)
def test_bad_mixture_values_are_one_line(tmp_path, mixture, field, expected):
    with pytest.raises(UserError) as info:
        load_recipe(_recipe(tmp_path, mixture))
    msg = str(info.value)
    assert "\n" not in msg and "mixtures" in msg and field in msg and expected in msg, msg


def test_a_zero_ratio_leaves_a_source_out(tmp_path):
    recipe = load_recipe(_recipe(tmp_path, {"sources": {"d": 0.0, "e": 2.0}, "size": 1}))
    assert recipe.mixtures["stage1"].sources == {"d": 0.0, "e": 2.0}
