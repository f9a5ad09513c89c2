"""``lingshu models``: build-tiny, build-nano's guard, list and info.

Expected values come from elsewhere: parameter counts from the model instantiated by
transformers (or from tensor shapes written here), ids from the Qwen2.5-VL release.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from lingshu.cli.models import app
from lingshu.core.errors import UserError

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli-models") / "tiny"
    result = runner.invoke(app, ["build-tiny", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(str(out))
    return out


def info_lines(model: str) -> dict[str, str]:
    result = runner.invoke(app, ["info", model])
    assert result.exit_code == 0, result.output
    return {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip()
        for line in result.stdout.splitlines()
        if ":" in line
    }


def test_info_on_tiny_model(tiny_dir):
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_dir)
    expected = sum(p.numel() for p in model.parameters())  # unique tensors: tied counted once
    info = info_lines(str(tiny_dir))
    assert info["kind"] == "qwen2_5_vl"
    assert info["architecture"] == "Qwen2_5_VLForConditionalGeneration"
    assert info["parameters"].startswith(f"{expected:,} ")
    assert info["stored dtype"] == "float32"
    assert info["vocabulary size"] == "151936"
    # Qwen2.5-VL's published ids.
    for part in ("image=151655", "video=151656", "vision_start=151652", "vision_end=151653"):
        assert part in info["special token ids"]
    assert info["chat template"].startswith("yes")
    assert "min_pixels=3,136, max_pixels=50,176 (up to 64 image tokens" in info["image limits"]


def test_info_on_text_only_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 100,
        "hidden_size": 8, "bos_token_id": 1, "eos_token_id": 2,
    }))
    save_file({"a": torch.zeros(100, 8), "b": torch.zeros(3, 5, dtype=torch.bfloat16)},
              tmp_path / "model.safetensors")
    info = info_lines(str(tmp_path))
    assert info["kind"] == "causal_lm"
    assert info["parameters"] == "815 (0.0 M)"  # 100*8 + 3*5
    assert info["stored dtype"] == "bfloat16, float32"
    assert info["special token ids"] == "bos=1, eos=2"
    assert info["chat template"].startswith("none")
    assert info["image limits"] == "text-only model"


def test_info_errors_are_user_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("LINGSHU_MODELS", str(tmp_path / "models"))
    result = runner.invoke(app, ["info", "lingshu-nano"])
    assert isinstance(result.exception, UserError)
    assert "lingshu-nano: not prepared yet" in str(result.exception)
    assert "lingshu models build-nano" in str(result.exception)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    result = runner.invoke(app, ["info", str(tmp_path / "bad")])
    assert isinstance(result.exception, UserError)
    assert "config.json: not readable JSON" in str(result.exception)


def test_list_shows_aliases_cache_and_how_to_load(tmp_path, monkeypatch):
    models = tmp_path / "models"
    monkeypatch.setenv("LINGSHU_MODELS", str(models))
    (models / "my-finetune").mkdir(parents=True)
    (models / "my-finetune" / "config.json").write_text("{}")
    (models / "lingshu-nano").mkdir()
    (models / "lingshu-nano" / "lingshu_source.json").write_text("{}")
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    blocks: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if not line.startswith(" "):
            name = line.split("  ")[0]
        blocks[name] = blocks.get(name, "") + line + "\n"
    assert "first use" in blocks["smollm2-135m-instruct"]
    assert "load: --model smollm2-135m-instruct" in blocks["smollm2-135m-instruct"]
    assert f"path: {models / 'smollm2-135m-instruct'}" in blocks["smollm2-135m-instruct"]
    nano = blocks["lingshu-nano"]
    assert "ready" in nano and "load: --model lingshu-nano" in nano
    assert "build-tiny" in blocks["tiny test model"]
    assert f"load: --model {models / 'my-finetune'}\n" in blocks["my-finetune"]
    assert "ready" in blocks["my-finetune"]


def test_build_refuses_nonempty_foreign_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("keep")
    for command in ("build-tiny", "build-nano"):
        result = runner.invoke(app, [command, "--out", str(tmp_path)])
        assert isinstance(result.exception, UserError), command
        assert "not empty" in str(result.exception)
    assert (tmp_path / "notes.txt").read_text() == "keep"
