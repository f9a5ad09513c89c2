"""One definition of how a model loads (issue 18): ``LoadOptions``. The ``hf`` backend's
options inherit it and ``lingshu chat`` / ``lingshu serve`` generate their flags from it."""

from __future__ import annotations

import inspect

import pytest

from lingshu.cli.chat import chat
from lingshu.cli.serve import serve
from lingshu.inference.backends.hf import HFConfig
from lingshu.models import LoadOptions


def test_hf_backend_options_are_load_options_plus_its_own():
    assert list(HFConfig.model_fields) == ["model", "batch_size", "max_batch_tokens",
                                           *LoadOptions.model_fields]  # fmt: skip
    for name, info in LoadOptions.model_fields.items():
        assert HFConfig.model_fields[name].description == info.description


def test_the_loading_part_is_a_plain_load_options():
    cfg = HFConfig(model="m", batch_size=2, dtype="float32", device="cpu", min_pixels=4)
    opts = cfg.load_options()
    assert type(opts) is LoadOptions
    assert opts == LoadOptions(dtype="float32", device="cpu", min_pixels=4)


@pytest.mark.parametrize("command", [chat, serve])
def test_commands_take_a_flag_for_every_load_option(command):
    params = inspect.signature(command).parameters
    for name, info in LoadOptions.model_fields.items():
        option = params[name].default
        assert option.param_decls == ("--" + name.replace("_", "-"),)
        assert option.default == info.default
        assert option.help == f"{info.description}."
