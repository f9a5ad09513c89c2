"""gradient_checkpointing reaches the model TRL trains, and changes memory, not results: two
GRPO steps with and without it end in the same weights (fp32, same seed, same completions)."""

from __future__ import annotations

import json
from pathlib import Path

from grpo_helpers import qa_row, write_rows
from lingshu.train.grpo import GRPOStageConfig, run_grpo_stage
from lingshu.train.rewards import REWARDS, completion_text, register_reward

if "test_b_share" not in REWARDS:

    @register_reward("test_b_share")
    def b_share(completions, **_):
        """Test-only: share of completion characters that are "B" (varies from the first
        step on the toy model, so the advantages and the update are not zero)."""
        return [completion_text(c).count("B") / max(len(completion_text(c)), 1) for c in completions]


def _run(char_model: Path, tmp_path: Path, checkpointing: bool) -> tuple[dict, dict]:
    from safetensors.torch import load_file

    data = write_rows(tmp_path / "rl.jsonl", [qa_row(i) for i in range(4)])
    config = GRPOStageConfig(
        data=[{"path": "rl.jsonl"}], rewards={"test_b_share": 1.0}, num_generations=2, beta=0.04,
        learning_rate=1e-2, max_completion_length=6, max_prompt_length=512, global_batch=2,
        rollout_batch=2, per_device_batch=4, max_steps=2, precision="fp32",
        gradient_checkpointing=checkpointing,
    )
    out = tmp_path / f"gc-{checkpointing}"
    run_grpo_stage(config, model_path=char_model, output_dir=out, seed=0, base_dir=data.parent,
                   device="cpu")
    return json.loads((out / "summary.json").read_text()), load_file(out / "final" / "model.safetensors")


def test_checkpointing_is_on_in_the_model_and_leaves_the_weights_unchanged(
        char_model: Path, tmp_path: Path) -> None:
    import torch

    on_summary, on = _run(char_model, tmp_path, True)
    off_summary, off = _run(char_model, tmp_path, False)
    # read from the trained model (transformers' is_gradient_checkpointing), not the config
    assert on_summary["gradient_checkpointing"] is True
    assert off_summary["gradient_checkpointing"] is False
    assert on_summary["generation"] == "transformers"
    assert on.keys() == off.keys()
    moved = 0
    for name, w in on.items():
        assert torch.allclose(w, off[name], atol=1e-6, rtol=0), name
        moved += int(not torch.equal(w, load_file_initial(char_model)[name]))
    assert moved > 0  # the steps trained something: equal weights are not two untouched copies


_INITIAL: dict = {}


def load_file_initial(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    if not _INITIAL:
        _INITIAL.update(load_file(model_dir / "model.safetensors"))
    return _INITIAL
