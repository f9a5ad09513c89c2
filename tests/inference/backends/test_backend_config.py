"""Backend options: typed, validated, one-line errors naming the option."""

from __future__ import annotations

import pytest

from lingshu.core.errors import UserError
from lingshu.inference import (
    BACKENDS,
    Backend,
    BackendConfig,
    describe_backend_options,
    get_backend,
    parse_backend_config,
    register_backend,
)
from lingshu.inference.backends.hf import HFBackend


def test_all_four_backends_are_registered():
    assert BACKENDS.names() == ["dummy", "hf", "openai", "vllm"]
    assert all(BACKENDS.get(n).name == n for n in BACKENDS.names())


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("hf", {}, "backend 'hf': option 'model' is required (local Hugging Face model directory"),
        (
            "hf",
            {"model": "m", "batch_sise": 4},
            "backend 'hf': unknown option 'batch_sise'; valid options: model, batch_size,",
        ),
        (
            "hf",
            {"model": "m", "batch_size": "many"},
            "backend 'hf': option 'batch_size' = 'many': Input should be a valid integer",
        ),
        (
            "hf",
            {"model": "m", "batch_size": 0},
            "backend 'hf': option 'batch_size' = 0: Input should be greater than or equal to 1",
        ),
        (
            "hf",
            {"model": "m", "dtype": "fp8"},
            "backend 'hf': option 'dtype' = 'fp8': Input should be 'auto', 'float32', "
            "'bfloat16' or 'float16'",
        ),
        (
            "hf",
            {"model": "m", "device": "tpu"},
            "backend 'hf': option 'device' = 'tpu': expected auto, cpu, cuda or cuda:N, got 'tpu'",
        ),
        (
            "hf",
            {"model": "m", "min_pixels": 10, "max_pixels": 5},
            "backend 'hf': min_pixels 10 exceeds max_pixels 5",
        ),
        ("openai", {"model": "m", "concurrency": 0}, "backend 'openai': option 'concurrency' = 0:"),
        (
            "openai",
            {"model": "m", "max_tokens_field": "tokens"},
            "backend 'openai': option 'max_tokens_field' = 'tokens':",
        ),
        (
            "dummy",
            {"latency": 1},
            "backend 'dummy': unknown option 'latency'; valid options: latency_s, fail_every, "
            "batch_size",
        ),
        (
            "vllm",
            {"model": "m", "gpu_memory_utilization": 1.5},
            "backend 'vllm': option 'gpu_memory_utilization' = 1.5:",
        ),
        ("nope", {}, "unknown backend 'nope'; expected one of: dummy, hf, openai, vllm"),
    ],
)
def test_bad_options_are_one_line_user_errors(name, options, message):
    with pytest.raises(UserError) as info:
        parse_backend_config(name, options)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_string_values_from_the_command_line_are_coerced():
    config = parse_backend_config("hf", {"model": "m", "batch_size": "16", "max_pixels": "50176"})
    assert (config.batch_size, config.max_pixels) == (16, 50176)


def test_construction_loads_nothing():
    backend = get_backend("hf", model="/no/such/model", batch_size=4)
    assert isinstance(backend, HFBackend) and backend._engine is None
    assert backend.preferred_batch_size() == 4
    with pytest.raises(UserError, match="no such directory"):
        backend.fingerprint()


def test_describe_options_for_help_text():
    rows = {field: (default, help_) for field, default, help_ in describe_backend_options("openai")}
    assert rows["model"][0] == "(required)"
    assert rows["concurrency"] == ("8", "requests in flight at once")


def test_register_backend_requires_a_config_class(monkeypatch):
    monkeypatch.setattr(BACKENDS, "_items", dict(BACKENDS._items))

    class NoConfig(Backend):
        def fingerprint(self):
            return {}

        def generate(self, requests, params):
            return []

    with pytest.raises(TypeError, match="Config must be a BackendConfig"):
        register_backend("broken")(NoConfig)

    class EchoConfig(BackendConfig):
        word: str = "hi"

    @register_backend("echo-test")
    class Echo(NoConfig):
        Config = EchoConfig

        def __init__(self, config):
            self.config = config

    assert get_backend("echo-test", word="yo").config.word == "yo"
    with pytest.raises(ValueError, match="duplicate backend name 'echo-test'"):
        register_backend("echo-test")(Echo)
