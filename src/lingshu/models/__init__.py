"""Models: loading checkpoints, the embedded default model, test models, image files.

Used by the evaluation backends, the chat and serving commands and the trainers::

    from lingshu.models import LoadOptions, load_model
    loaded = load_model("smollm2-135m-instruct", LoadOptions(device="cpu"))

Importing this package does not import torch or transformers; the functions do.
"""

from lingshu.models.fingerprint import content_sha256, model_fingerprint
from lingshu.models.images import (
    ImageReader,
    image_to_data_uri,
    load_image,
    register_reader,
    supported_formats,
)
from lingshu.models.nano import NANO_ALIAS, build_nano, ensure_nano_dir, nano_default_dir
from lingshu.models.medical_images import load_medical_image, read_dicom, read_nifti
from lingshu.models.loading import (
    ALIASES,
    LoadedModel,
    LoadOptions,
    ModelKind,
    detect_kind,
    load_model,
    model_fingerprint_for,
    resolve_model_dir,
)
from lingshu.models.qwen_tokenizer import (
    QWEN2_5_SPECIAL_TOKENS,
    QWEN2_5_VL_CHAT_TEMPLATE,
    build_qwen2_5_tokenizer,
)
from lingshu.models.smollm2 import (
    SMOLLM2_ALIAS,
    ensure_smollm2_dir,
    find_smollm2_gguf,
    models_cache_dir,
)
from lingshu.models.tiny import build_tiny_qwen2_5_vl

__all__ = [
    "ALIASES",
    "ImageReader",
    "LoadOptions",
    "LoadedModel",
    "ModelKind",
    "NANO_ALIAS",
    "QWEN2_5_SPECIAL_TOKENS",
    "QWEN2_5_VL_CHAT_TEMPLATE",
    "SMOLLM2_ALIAS",
    "build_nano",
    "build_qwen2_5_tokenizer",
    "build_tiny_qwen2_5_vl",
    "content_sha256",
    "detect_kind",
    "ensure_nano_dir",
    "ensure_smollm2_dir",
    "find_smollm2_gguf",
    "image_to_data_uri",
    "load_image",
    "load_medical_image",
    "load_model",
    "model_fingerprint",
    "model_fingerprint_for",
    "models_cache_dir",
    "nano_default_dir",
    "read_dicom",
    "read_nifti",
    "register_reader",
    "resolve_model_dir",
    "supported_formats",
]
