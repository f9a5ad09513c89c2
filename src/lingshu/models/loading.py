"""Load any model the project evaluates, serves or trains, from one ``source`` string.

``source`` is one of

- a local Hugging Face directory (``config.json`` + weights): the usual case;
- a hub id such as ``lingshu-medical-mllm/Lingshu-7B``, fetched by ``huggingface_hub``
  into its cache and then treated as a local directory (never needed offline);
- the alias ``smollm2-135m-instruct``: the embedded default model (see ``smollm2``).

The model class follows ``config.json``: Qwen2.5-VL checkpoints (Lingshu, Qwen2.5-VL)
load as ``Qwen2_5_VLForConditionalGeneration`` with their ``AutoProcessor``; other
vision-language models through ``AutoModelForImageTextToText``; text-only models through
``AutoModelForCausalLM`` with their tokenizer. Heavy imports (torch, transformers) happen
inside functions, so importing this module (e.g. for ``lingshu --help``) costs nothing.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lingshu.core.errors import UserError
from lingshu.models.fingerprint import model_fingerprint, read_config
from lingshu.models.nano import NANO_ALIAS, ensure_nano_dir
from lingshu.models.smollm2 import SMOLLM2_ALIAS, ensure_smollm2_dir

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _check_device(value: str) -> str:
    if not _DEVICE_RE.match(value):
        raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {value!r}")
    return value


ModelKind = Literal["qwen2_5_vl", "image_text_to_text", "causal_lm"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
Device = Annotated[str, AfterValidator(_check_device)]
AttnImplementation = Literal["auto", "sdpa", "eager", "flash_attention_2"]
ModelSource = Annotated[
    str, BeforeValidator(lambda v: os.fspath(v) if isinstance(v, os.PathLike) else v)
]
"""A model directory (``str`` or ``Path``), hub id or alias, stored as ``str``."""

_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
ALIASES = {SMOLLM2_ALIAS: ensure_smollm2_dir, NANO_ALIAS: ensure_nano_dir}
"""Built-in model names, resolved to a local directory by their function."""


class LoadOptions(BaseModel):
    """How to load a model. Defaults suit both a laptop and a GPU server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dtype: DType = Field(
        "auto", description="auto = bfloat16 on CUDA (Lingshu's training dtype), float32 on CPU"
    )
    device: Device = Field("auto", description="auto (CUDA when available), cpu, cuda or cuda:N")
    min_pixels: int | None = Field(
        None, ge=1, description="Qwen2.5-VL: smallest image area after resizing (pixels)"
    )
    max_pixels: int | None = Field(
        None, ge=1, description="Qwen2.5-VL: largest image area after resizing (pixels)"
    )
    attn_implementation: AttnImplementation = Field(
        "auto",
        description="auto = flash_attention_2 on CUDA when flash-attn is installed, else sdpa",
    )

    @model_validator(mode="after")
    def _check_pixels(self) -> LoadOptions:
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} exceeds max_pixels {self.max_pixels}")
        return self


@dataclass
class LoadedModel:
    """A ready-to-generate model.

    ``processor`` is the ``AutoProcessor`` for vision-language models and the tokenizer
    for text-only ones; ``tokenizer`` is always the tokenizer (left padding, pad token
    set). ``fingerprint`` is what :func:`model_fingerprint_for` returns for the same
    source and options.
    """

    model: Any
    processor: Any
    tokenizer: Any
    kind: ModelKind
    source: str
    path: Path
    fingerprint: dict[str, Any]
    device: str
    dtype: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_multimodal(self) -> bool:
        return self.kind != "causal_lm"


def resolve_model_dir(source: str) -> Path:
    """The local directory behind ``source`` (alias, directory or hub id)."""
    if source in ALIASES:
        return ALIASES[source]()
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(
                f"{path}: no config.json; expected a Hugging Face model directory "
                "(config.json + *.safetensors), a hub id like 'org/name', or "
                f"the alias {SMOLLM2_ALIAS!r}"
            )
        return path
    if path.exists():
        raise UserError(
            f"{path}: is a file; pass the model's directory (holding config.json), not a file"
        )
    if not _looks_like_hub_id(source):
        raise UserError(
            f"model {source!r}: no such directory; pass a local Hugging Face model directory, "
            f"a hub id like 'org/name', or the alias {SMOLLM2_ALIAS!r}"
        )
    return _download(source)


def detect_kind(model_dir: Path) -> ModelKind:
    """Choose the model class from ``config.json`` (model_type, architectures)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    config = read_config(model_dir)
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    if model_type == "qwen2_5_vl" or "Qwen2_5_VLForConditionalGeneration" in architectures:
        return "qwen2_5_vl"
    if "vision_config" in config:
        return "image_text_to_text"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or any(
        a.endswith("ForCausalLM") for a in architectures
    ):
        return "causal_lm"
    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return "image_text_to_text"
    raise UserError(
        f"{Path(model_dir) / 'config.json'}: model_type {model_type!r} is neither a "
        "vision-language model nor a causal language model known to transformers; "
        "upgrade transformers or convert the checkpoint"
    )


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda:0`` when CUDA is available, else ``cpu``; ``cuda`` -> ``cuda:0``."""
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available; use device=cpu")
    return "cuda:0" if device == "cuda" else device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> bfloat16 on CUDA, float32 on CPU (half precision is slow and lossy there)."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.startswith("cuda") else "float32"


def resolve_attn(attn: str, device: str, dtype: str) -> str:
    if attn != "auto":
        return attn
    flash_ok = (
        device.startswith("cuda")
        and dtype in ("bfloat16", "float16")
        and importlib.util.find_spec("flash_attn") is not None
    )
    return "flash_attention_2" if flash_ok else "sdpa"


def model_fingerprint_for(source: str, options: LoadOptions | None = None) -> dict[str, Any]:
    """The fingerprint of ``source`` loaded with ``options``, without loading weights."""
    options = options or LoadOptions()
    model_dir = resolve_model_dir(source)
    dtype = resolve_dtype(options.dtype, _device_for_dtype(options))
    return model_fingerprint(
        model_dir, dtype=dtype, min_pixels=options.min_pixels, max_pixels=options.max_pixels
    )


def load_model(source: str, options: LoadOptions | None = None) -> LoadedModel:
    """Load ``source`` for generation (eval mode, inference dtype, left padding)."""
    import torch

    options = options or LoadOptions()
    model_dir = resolve_model_dir(source)
    kind = detect_kind(model_dir)
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)
    attn = resolve_attn(options.attn_implementation, device, dtype)
    if kind == "causal_lm" and (options.min_pixels or options.max_pixels):
        raise UserError(
            f"{source}: min_pixels/max_pixels apply to vision-language models; this is a "
            "text-only model, drop those options"
        )
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype), "attn_implementation": attn}
    if device.startswith("cuda"):
        # "auto" spreads a model too big for one GPU over all of them (Lingshu-32B).
        kwargs["device_map"] = "auto" if options.device == "auto" else {"": device}
    model_cls, processor = _model_class_and_processor(kind, model_dir, options)
    try:
        model = model_cls.from_pretrained(model_dir, **kwargs)
    except (OSError, ValueError) as e:
        raise UserError(f"{model_dir}: cannot load the model ({_first_line(e)})") from None
    model.eval()
    tokenizer = processor if kind == "causal_lm" else processor.tokenizer
    tokenizer.padding_side = "left"  # generation appends on the right
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(
        model=model,
        processor=processor,
        tokenizer=tokenizer,
        kind=kind,
        source=source,
        path=model_dir,
        fingerprint=model_fingerprint(
            model_dir, dtype=dtype, min_pixels=options.min_pixels, max_pixels=options.max_pixels
        ),
        device=str(model.device),
        dtype=dtype,
        extra={"attn_implementation": attn},
    )


def _model_class_and_processor(kind: ModelKind, model_dir: Path, options: LoadOptions) -> tuple:
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
        Qwen2_5_VLForConditionalGeneration,
    )

    try:
        if kind == "causal_lm":
            return AutoModelForCausalLM, AutoTokenizer.from_pretrained(model_dir)
        processor = AutoProcessor.from_pretrained(model_dir)
    except (OSError, ValueError) as e:
        raise UserError(
            f"{model_dir}: cannot load the tokenizer/processor ({_first_line(e)})"
        ) from None
    if options.min_pixels or options.max_pixels:
        _set_pixel_limits(processor, model_dir, options)
    if kind == "qwen2_5_vl":
        return Qwen2_5_VLForConditionalGeneration, processor
    return AutoModelForImageTextToText, processor


def _set_pixel_limits(processor: Any, model_dir: Path, options: LoadOptions) -> None:
    """Override the image area bounds of a Qwen2-VL-family image processor.

    Those processors resize each image so that its area lies in [min_pixels, max_pixels]
    (stored as ``size.shortest_edge`` / ``size.longest_edge``, in pixels of area).
    Other processors give those keys another meaning (edge lengths), so they are refused.
    """
    from transformers.image_utils import SizeDict

    ip = getattr(processor, "image_processor", None)
    size = getattr(ip, "size", None)
    if ip is None or not hasattr(ip, "merge_size") or size is None:
        raise UserError(
            f"{model_dir}: min_pixels/max_pixels are Qwen2-VL-family image settings; this "
            f"model's image processor ({type(ip).__name__}) has no such limits"
        )
    lo = options.min_pixels or size.shortest_edge
    hi = options.max_pixels or size.longest_edge
    if lo > hi:
        raise UserError(
            f"min_pixels {lo} exceeds max_pixels {hi} (the other bound comes from "
            f"{model_dir}/preprocessor_config.json); set both"
        )
    ip.size = SizeDict(shortest_edge=lo, longest_edge=hi)


def _device_for_dtype(options: LoadOptions) -> str:
    if options.dtype != "auto":
        return "cpu"  # dtype is explicit; the device does not matter for the fingerprint
    return resolve_device(options.device)


def _looks_like_hub_id(source: str) -> bool:
    return bool(_HUB_ID_RE.match(source)) and not source.startswith((".", "~", "/"))


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=repo_id))
    except Exception as e:  # network, auth, offline mode, unknown repo: all user-fixable
        raise UserError(
            f"model {repo_id!r}: not a local directory and cannot be fetched from the "
            f"Hugging Face hub ({type(e).__name__}: {_first_line(e)}); download it and pass "
            "its directory"
        ) from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
