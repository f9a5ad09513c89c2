"""Issue 22, point 13: a gate naming a benchmark the pipeline does not evaluate (a typo)
fails when the recipe loads, in one line with a suggestion, before anything starts."""

from __future__ import annotations

import pytest

from lingshu.core.errors import UserError
from lingshu.pipeline import load_pipeline_recipe


def test_a_typo_in_a_gate_benchmark_fails_at_load():
    with pytest.raises(UserError) as info:
        load_pipeline_recipe("nano", ["gates.0.benchmark=lingshu-dmo"])
    msg = str(info.value)
    assert "\n" not in msg
    assert "gates.0.benchmark: 'lingshu-dmo' is not evaluated; did you mean 'lingshu-demo'?" in msg


def test_the_shipped_gates_load():
    recipe = load_pipeline_recipe("nano")
    assert [g.benchmark for g in recipe.gates] == ["lingshu-demo", "mmlu-med", None]
