"""The DeepSpeed config a run uses is built from the stage by one function, which the dry run
calls too; DeepSpeed's own parser checks the result. Values are worked by hand from the
lingshu-7b recipe (per_device_batch 1, grad_accum 8, clipping 1.0, 8 GPUs) and
Qwen2.5-VL-7B's hidden size 3584; the hidden-size formulas are accelerate 1.15's."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lingshu.train.config import RECIPES_DIR, load_recipe
from lingshu.train.distributed import configure_deepspeed, deepspeed_config
from lingshu.train.dryrun import check_accelerate_config

ACC = RECIPES_DIR / "accelerate"


def _shipped(name: str = "ds_zero3.json") -> dict:
    return json.loads((ACC / name).read_text())


def test_built_config_fills_every_auto_from_the_stage():
    ds = deepspeed_config(_shipped(), per_device_batch=1, grad_accum=8, world_size=8, max_grad_norm=1.0,
                          precision="bf16", hidden_size=3584)
    assert (ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"], ds["train_batch_size"],
            ds["gradient_clipping"], ds["bf16"]["enabled"]) == (1, 8, 64, 1.0, True)
    z = ds["zero_optimization"]
    assert (z["reduce_bucket_size"], z["stage3_prefetch_bucket_size"], z["stage3_param_persistence_threshold"]) \
        == (3584 * 3584, 11560550, 35840)
    assert _shipped()["train_micro_batch_size_per_gpu"] == "auto"  # the file itself is untouched
    off = deepspeed_config(_shipped("ds_zero2.json"), per_device_batch=2, grad_accum=4, world_size=2,
                           max_grad_norm=None, precision="fp32", hidden_size=16)
    assert (off["train_batch_size"], off["gradient_clipping"], off["bf16"]["enabled"]) == (16, 0.0, False)


def test_the_run_uses_the_same_builder():
    """configure_deepspeed (called by the run before prepare) writes exactly what the dry
    run's builder gives, and sets accelerate's accumulation count."""
    plugin = SimpleNamespace(deepspeed_config=_shipped())
    acc = SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=plugin), num_processes=2,
                          gradient_accumulation_steps=1)
    stage = SimpleNamespace(name="s", per_device_batch=1, grad_accum=4, max_grad_norm=1.0)
    cfg = SimpleNamespace(hidden_size=None, text_config=SimpleNamespace(hidden_size=32))
    built = configure_deepspeed(acc, stage, "fp32", cfg)
    want = deepspeed_config(_shipped(), per_device_batch=1, grad_accum=4, world_size=2, max_grad_norm=1.0,
                            precision="fp32", hidden_size=32)
    assert built == want == plugin.deepspeed_config
    assert acc.gradient_accumulation_steps == 4


@pytest.mark.parametrize("name", ["lingshu-7b", "lingshu-32b"])
def test_shipped_zero3_recipes_pass_the_dry_run(name):
    pytest.importorskip("deepspeed")
    assert check_accelerate_config(load_recipe(name, check_files=False)) == []


def _with_json(tmp_path, ds: dict | str) -> list[str]:
    (tmp_path / "ds.json").write_text(ds if isinstance(ds, str) else json.dumps(ds))
    acc = (ACC / "zero3-8gpu.yaml").read_text().replace("ds_zero3.json", "ds.json")
    (tmp_path / "acc.yaml").write_text(acc)
    r = load_recipe("lingshu-7b", [f"parallelism.accelerate_config={tmp_path / 'acc.yaml'}"], check_files=False)
    return check_accelerate_config(r)


@pytest.mark.parametrize("edit, expect", [
    ({"gradient_accumulation_steps": 3}, "gradient_accumulation_steps 3 != the stage's 8"),
    ({"train_batch_size": 100}, "train_batch_size 100 != per_device_batch x grad_accum x processes = 64"),
    ({"fp16": {"enabled": True}}, "DeepSpeed rejects it"),  # bf16 (auto -> on) and fp16 together
    ({"zero_optimization": {"stage": 3}}, "stage3_gather_16bit_weights_on_model_save must be true"),
    ({"zero_optimization": {"stage": 3, "stage3_gather_16bit_weights_on_model_save": True,
                            "stage3_max_live_parameters": "auto"}}, "'auto' left that nothing fills"),
])
def test_broken_config_gives_one_line_per_problem(tmp_path, edit, expect):
    pytest.importorskip("deepspeed")
    probs = _with_json(tmp_path, dict(_shipped(), **edit))
    assert probs and any(expect in p for p in probs), probs
    assert all("\n" not in p and "ds.json" in p for p in probs), probs


def test_not_json_is_one_line(tmp_path):
    probs = _with_json(tmp_path, "{not json")
    assert len(probs) == 1 and "ds.json: not JSON (line 1" in probs[0], probs


def test_mixed_precision_in_a_deepspeed_launch_config_is_reported(tmp_path):
    """accelerate refuses mixed_precision next to a deepspeed_config_file at start-up (seen
    here); the dry run says so in one line."""
    acc = (ACC / "zero3-8gpu.yaml").read_text().replace("ds_zero3.json", str(ACC / "ds_zero3.json"))
    (tmp_path / "acc.yaml").write_text(acc + "mixed_precision: bf16\n")
    r = load_recipe("lingshu-7b", [f"parallelism.accelerate_config={tmp_path / 'acc.yaml'}"], check_files=False)
    probs = check_accelerate_config(r)
    assert len(probs) == 1 and "remove mixed_precision" in probs[0], probs
