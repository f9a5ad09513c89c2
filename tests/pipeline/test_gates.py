"""The pipeline's gates on the final model, on hand-made evaluation points and GRPO logs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lingshu.pipeline.recipe import Gate
from lingshu.pipeline.report import check_gates, compliance_change


def _grpo(values: list[float]) -> list[dict]:
    return [{"step": i + 1, "reward/mean": 0.5, "format_compliance": v} for i, v in enumerate(values)]


def test_compliance_change_compares_first_and_last_quarter() -> None:
    # 8 steps: quarter = 2 steps; (0.25 + 0.5) / 2 = 0.375 and (0.875 + 1.0) / 2 = 0.9375
    assert compliance_change(_grpo([0.25, 0.5, 0.5, 0.75, 0.5, 0.75, 0.875, 1.0])) == (0.375, 0.9375)
    assert compliance_change(_grpo([0.5])) is None
    assert compliance_change([{"step": 1, "loss": 1.0}]) is None


def test_grpo_gate_passes_only_when_compliance_rises() -> None:
    gate = Gate(grpo_compliance_rises=True)
    points = [{"label": "base", "eval": {}}, {"label": "stage4", "eval": {}}]
    up = check_gates([gate], points, {}, {"stage4-grpo": _grpo([0.25, 0.5, 0.75, 1.0])})
    assert up[0]["passed"] and up[0]["benchmark"] == "stage4-grpo"
    assert "25% -> 100%" in next(iter(up[0]["checks"]))
    flat = check_gates([gate], points, {}, {"stage4-grpo": _grpo([0.75, 0.5, 0.5, 0.75])})
    assert not flat[0]["passed"]
    # no GRPO stage logged: the gate fails, it is never skipped
    assert not check_gates([gate], points, {}, {"sft": [{"step": 1, "loss": 2.0}]})[0]["passed"]


def test_accuracy_gates_read_the_final_point() -> None:
    points = [
        {"label": "base", "eval": {"b": {"accuracy": 0.30, "ci_low": 0.22, "invalid_rate": 0.2}}},
        {"label": "final", "eval": {"b": {"accuracy": 0.85, "ci_low": 0.79, "invalid_rate": 0.0}}},
    ]
    paired = {"b": {"ci_low": 0.41, "diff": 0.55}}
    g = Gate(benchmark="b", min_accuracy=0.8, max_invalid_rate=0.0, beats_baseline=True,
             no_drop_beyond_ci=True)
    assert check_gates([g], points, paired)[0]["passed"]
    assert not check_gates([Gate(benchmark="b", min_accuracy=0.9)], points, paired)[0]["passed"]


def test_gate_kinds_are_validated() -> None:
    with pytest.raises(ValidationError, match="names its benchmark"):
        Gate(min_accuracy=0.8)
    with pytest.raises(ValidationError, match="a gate checks something"):
        Gate(benchmark="b")
