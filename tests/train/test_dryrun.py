"""Dry run: parameter counts on the meta device from the bundled configs, checked against a
hand computation from the published architecture; accelerate / DeepSpeed configs parse and
agree with the recipes."""

from __future__ import annotations

import json

import pytest

from lingshu.train.dryrun import (
    bundled_architectures,
    check_accelerate_config,
    memory_estimate,
    plan,
)
from lingshu.train import load_recipe
from lingshu.train.config import RECIPES_DIR


def qwen2_5_vl_7b_by_hand() -> dict[str, int]:
    """Qwen2.5-VL-7B from BRIEF §7's numbers, layer by layer (Linear = in*out [+ out bias])."""
    # language model: hidden 3584, 28 layers, 28 heads (head_dim 128), 4 KV heads, MLP 18944
    h, L, kv, ff, V = 3584, 28, 4 * 128, 18944, 152064
    attn = (h * h + h) + 2 * (h * kv + kv) + h * h  # q,k,v with bias; o without
    mlp = 3 * h * ff  # gate, up, down; no bias
    layer = attn + mlp + 2 * h  # two RMSNorms
    llm = V * h + L * layer + h + V * h  # embeddings, layers, final norm, untied lm_head
    # vision: 32 blocks, hidden 1280, MLP 3420 (with biases), patch conv 3*2*14*14 -> 1280 (no bias)
    vh, vff = 1280, 3420
    block = 2 * vh + (vh * 3 * vh + 3 * vh) + (vh * vh + vh) + 2 * (vh * vff + vff) + (vff * vh + vh)
    vision = 3 * 2 * 14 * 14 * vh + 32 * block
    # merger: RMSNorm(1280), Linear(5120, 5120), Linear(5120, 3584)
    merger = vh + (4 * vh * 4 * vh + 4 * vh) + (4 * vh * h + h)
    return {"vision": vision, "merger": merger, "llm": llm}


def test_7b_dry_run_counts_match_hand_computation():
    r = load_recipe("lingshu-7b", check_files=False)
    p = plan(r)
    want = qwen2_5_vl_7b_by_hand()
    assert p.params == want
    assert sum(want.values()) == 8_292_166_656  # Qwen2.5-VL-7B-Instruct's published size
    s1 = p.stages[0]
    assert s1.trainable == {"vision": want["vision"], "merger": want["merger"], "llm": 0}
    assert s1.tokens_per_step == 1 * 8 * 8 * 8192
    assert s1.steps == -(-927_000 // 64)  # ceil(samples / (batch 1 x accum 8 x 8 GPUs))
    assert p.stages[1].trainable["llm"] == want["llm"]
    m = s1.memory_gib
    assert m["total"] == pytest.approx(sum(v for k, v in m.items() if k != "total"), abs=0.05)


def test_bundled_configs_are_the_three_published_models():
    assert set(bundled_architectures()) == {"qwen2.5-vl-7b-instruct", "qwen2.5-vl-32b-instruct",
                                            "qwen2-vl-2b-instruct"}
    c7 = json.loads(bundled_architectures()["qwen2.5-vl-7b-instruct"].read_text())
    v = c7["vision_config"]
    assert (c7["hidden_size"], c7["intermediate_size"], c7["num_hidden_layers"], c7["num_attention_heads"],
            c7["num_key_value_heads"], c7["vocab_size"], c7["tie_word_embeddings"]) == (
        3584, 18944, 28, 28, 4, 152064, False)
    assert (v["depth"], v["hidden_size"], v["intermediate_size"], v["num_heads"], v["window_size"],
            v["fullatt_block_indexes"], v["out_hidden_size"]) == (32, 1280, 3420, 16, 112, [7, 15, 23, 31], 3584)
    assert c7["rope_scaling"]["mrope_section"] == [16, 24, 24]


def test_memory_estimate_shards_with_zero3():
    class C:
        hidden_size, num_hidden_layers, vocab_size = 10, 2, 100

    one = memory_estimate(1000, 1000, 8, C, "ddp", 8, False)
    z3 = memory_estimate(1000, 1000, 8, C, "deepspeed-zero3", 8, False)
    assert z3["optimizer"] * 8 == pytest.approx(12 * 1000 / 2**30, abs=0.01)
    assert z3["total"] <= one["total"]


@pytest.mark.parametrize("name", ["lingshu-7b", "lingshu-32b", "med-r1", "med-r1-nothink"])
def test_accelerate_configs_consistent(name):
    assert check_accelerate_config(load_recipe(name, check_files=False)) == []


def test_accelerate_mismatch_reported():
    r = load_recipe("lingshu-7b", ["parallelism.nodes=2"], check_files=False)
    probs = check_accelerate_config(r)
    assert any("num_processes" in p for p in probs) and any("num_machines" in p for p in probs)


def test_accelerate_and_deepspeed_files_parse():
    from accelerate.commands.config.config_args import load_config_from_file

    acc_dir = RECIPES_DIR / "accelerate"
    for f in sorted(acc_dir.glob("*.yaml")):
        cfg = load_config_from_file(str(f))
        assert cfg.num_processes >= 1, f
    ds = json.loads((acc_dir / "ds_zero3.json").read_text())
    assert ds["zero_optimization"]["stage"] == 3
    try:
        from accelerate.utils.deepspeed import HfDeepSpeedConfig
    except ImportError:
        return
    hf = HfDeepSpeedConfig(str(acc_dir / "ds_zero3.json"))
    assert hf.is_zero3()


def test_accelerate_mixed_precision_against_precision_auto():
    """auto resolves on the machine that trains (bf16 on GPUs with it, else fp32), so the
    dry run accepts an accelerate config with bf16 or none for it, and fp16 for neither."""
    fsdp = ["parallelism.strategy=fsdp",  # given on the command line: against the current folder
            f"parallelism.accelerate_config={RECIPES_DIR / 'accelerate' / 'fsdp-8gpu.yaml'}"]
    for precision, ok in (("auto", True), ("bf16", True), ("fp32", False), ("fp16", False)):
        r = load_recipe("lingshu-7b", [*fsdp, f"precision={precision}"], check_files=False)
        probs = [p for p in check_accelerate_config(r) if "mixed_precision" in p]
        assert (probs == []) is ok, (precision, probs)
