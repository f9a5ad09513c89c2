"""Freezing and per-part learning rates, exactly as the recipe says; HF-standard outputs;
LoRA on the language model only, with a merged export."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingshu.train.parts import apply_freezing, param_groups, part_of
from lingshu.train import load_recipe
from lingshu.train import run_recipe

from _train_helpers import make_images, qwen_row, tiny_recipe, write_jsonl

torch = pytest.importorskip("torch")


def test_part_of_names():
    assert part_of("model.visual.blocks.0.mlp.gate_proj.weight") == "vision"
    assert part_of("model.visual.patch_embed.proj.weight") == "vision"
    assert part_of("model.visual.merger.mlp.0.weight") == "merger"
    assert part_of("model.language_model.layers.0.mlp.gate_proj.weight") == "llm"
    assert part_of("lm_head.weight") == "llm"
    assert part_of("base_model.model.model.visual.merger.ln_q.weight") == "merger"


def _load(d):
    from transformers import Qwen2_5_VLForConditionalGeneration

    return Qwen2_5_VLForConditionalGeneration.from_pretrained(d, dtype=torch.float32)


def test_optimizer_groups_carry_recipe_lrs(tiny_vl_dir):
    model = _load(tiny_vl_dir)
    lrs = {"vision": 2e-6, "merger": 1e-5, "llm": None}
    counts = apply_freezing(model, lrs)
    assert counts["llm"] == 0 and counts["vision"] > 0 and counts["merger"] > 0
    groups = param_groups(model, lrs, weight_decay=0.1)
    assert {(g["part"], g["lr"]) for g in groups} == {("vision", 2e-6), ("merger", 1e-5)}
    in_groups = {id(p) for g in groups for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in in_groups) == (part_of(name) != "llm"), name
    assert all(g["weight_decay"] == (0.1 if g["name"].endswith("/decay") else 0.0) for g in groups)


@pytest.fixture()
def data(tmp_path) -> Path:
    make_images(tmp_path / "images")
    rows = [qwen_row(i, ["images/a.png", "images/b.png", None][i % 3], f"Which organ {i}?", f"Lung {i}.")
            for i in range(8)]
    return write_jsonl(tmp_path / "train.jsonl", rows)


@pytest.mark.parametrize("parts,changed", [
    ({"vision": 1e-2, "merger": 1e-2, "llm": "frozen"}, {"vision", "merger"}),   # Lingshu stage 1
    ({"vision": "frozen", "merger": 1e-2, "llm": 1e-2}, {"merger", "llm"}),
])
def test_frozen_parameters_bit_identical(tiny_vl_dir, tmp_path, data, parts, changed):
    p = tiny_recipe(tmp_path, tiny_vl_dir, data, parts=parts, max_steps=2, checkpoint_every=100)
    rec = load_recipe(p)
    final = run_recipe(rec, p, [])["sft"].model_path
    before, after = _load(tiny_vl_dir).state_dict(), _load(final).state_dict()
    assert before.keys() == after.keys()
    for name, t in before.items():
        same = torch.equal(t, after[name])
        if part_of(name) in changed and name.endswith("weight") and t.ndim == 2:
            assert not same, f"{name} should have trained"
        elif part_of(name) not in changed:
            assert same, f"{name} is frozen but changed"
    # the run directory holds what a user looks at
    run = Path(rec.output_dir)
    for f in ("recipe.resolved.yaml", "manifest.json", "metrics.jsonl", "plots/loss.png", "plots/lr.png",
              "plots/grad_norm.png", "sft/summary.json", "sft/exclusions.jsonl"):
        assert (run / f).is_file(), f
    import json

    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for part in changed:  # logged LR at step 1 = recipe LR x warmup factor (1 warmup step -> 0)
        assert f"lr/{part}" in rows[0]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["data_files"][0]["sha256"] and manifest["versions"]["torch"]


def test_output_loads_with_plain_transformers_and_lingshu(tiny_vl_dir, tmp_path, data):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from lingshu.models import LoadOptions, load_model

    p = tiny_recipe(tmp_path, tiny_vl_dir, data, max_steps=1)
    final = run_recipe(load_recipe(p), p, [])["sft"].model_path
    AutoProcessor.from_pretrained(final)
    m = AutoModelForImageTextToText.from_pretrained(final)
    assert m.config.model_type == "qwen2_5_vl"
    loaded = load_model(str(final), LoadOptions(device="cpu"))
    assert loaded is not None


def test_lora_targets_language_model_only_and_merges(tiny_vl_dir, tmp_path, data):
    p = tiny_recipe(tmp_path, tiny_vl_dir, data, max_steps=2, parts={"vision": "frozen", "merger": "frozen", "llm": 5e-2},
                    lora={"r": 4, "alpha": 8})
    rec = load_recipe(p)
    final = run_recipe(rec, p, [])["sft"].model_path
    adapter = Path(rec.output_dir) / "sft" / "final-adapter"
    from safetensors.torch import load_file

    names = list(load_file(str(adapter / "adapter_model.safetensors")))
    assert names and all("language_model" in n for n in names), names[:3]
    assert not any(".visual." in n for n in names)
    before, after = _load(tiny_vl_dir).state_dict(), _load(final).state_dict()
    assert before.keys() == after.keys()  # merged: no lora_ keys, same layout
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all(part_of(n) == "llm" for n in changed)


@pytest.mark.slow
def test_evaluation_after_stage_through_eval_kit(tiny_vl_dir, tmp_path, data):
    import json

    bench = Path(__file__).resolve().parents[2] / "data" / "benchmarks"
    p = tiny_recipe(tmp_path, tiny_vl_dir, data, max_steps=1,
                    eval={"benchmarks": ["medqa-usmle"], "data_dir": str(bench), "limit": 2, "max_new_tokens": 4})
    rec = load_recipe(p)
    run_recipe(rec, p, [])
    run = Path(rec.output_dir)
    summary = json.loads((run / "sft" / "summary.json").read_text())
    assert summary["eval"]["benchmarks"]["medqa-usmle"]["n"] == 2
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert "eval/medqa-usmle/accuracy" in last
    assert (run / "plots" / "eval.png").is_file()
