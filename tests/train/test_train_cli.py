"""``lingshu train``: recipes listing, fields, dry run (text and JSON) through the CLI."""

from __future__ import annotations

import json

from lingshu.cli.main import main


def test_recipes_list(capsys):
    assert main(["train", "recipes"]) == 0
    out = capsys.readouterr().out
    for name in ("nano", "lingshu-7b", "lingshu-32b", "med-r1", "med-r1-nothink"):
        assert name in out


def test_recipes_fields_documented(capsys):
    assert main(["train", "recipes", "--fields"]) == 0
    lines = capsys.readouterr().out.splitlines()
    keys = {line.split()[0]: line for line in lines}
    for k in ("base_model", "stages[kind=sft].parts", "stages[kind=sft].packing", "stages[kind=sft].lora.target_regex"):
        assert k in keys
    assert all(len(line.split(None, 1)) == 2 for line in lines), "a field has no description"


def test_dry_run_json_offline_32b(capsys):
    assert main(["train", "--recipe", "lingshu-32b", "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert sum(plan["params"].values()) == 33_452_718_336  # Qwen2.5-VL-32B-Instruct
    assert plan["world_size"] == 32 and plan["problems"] == []
    s1 = plan["stages"][0]
    assert s1["trainable"]["llm"] == 0 and s1["memory_gib"]["total"] > 0


def test_dry_run_reports_inconsistent_accelerate_config(capsys):
    assert main(["train", "--recipe", "lingshu-7b", "--dry-run", "parallelism.gpus_per_node=4"]) == 2
    assert "num_processes 8 != gpus_per_node x nodes = 4" in capsys.readouterr().out


def test_override_without_equals_is_user_error(capsys):
    assert main(["train", "--recipe", "nano", "--dry-run", "oops"]) == 2
    assert "expected key=value" in capsys.readouterr().err


def test_train_group_lists_stage_kinds_and_grpo_prompts(capsys):
    """`lingshu train stages` and `lingshu train prompts` come from their registries."""
    assert main(["train", "stages", "--json"]) == 0
    import json

    kinds = json.loads(capsys.readouterr().out)
    # the built-in kinds (other tests may register their own kinds in the same process)
    assert {"grpo", "sft"} <= set(kinds)
    assert "num_generations" in kinds["grpo"]["keys"] and "packing" in kinds["sft"]["keys"]
    assert main(["train", "prompts", "--json"]) == 0
    prompts = json.loads(capsys.readouterr().out)
    assert {k: v["format_reward"] for k, v in prompts.items()} == {
        "no_thinking/v1": "format_no_thinking", "thinking/v1": "format_thinking"}


def test_old_and_new_spellings_reach_the_same_command(capsys):
    """`lingshu train --recipe X` is `lingshu train run --recipe X` (issue 18: no spelling lost)."""
    assert main(["train", "run", "--recipe", "nano", "--dry-run", "--json"]) == 0
    new = capsys.readouterr().out
    assert main(["train", "--recipe", "nano", "--dry-run", "--json"]) == 0
    assert capsys.readouterr().out == new
    assert main(["train", "run", "--recipe", "nano", "--dry-run", "--set", "oops"]) == 2
    assert "expected key=value" in capsys.readouterr().err
