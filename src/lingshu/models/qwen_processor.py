"""The Qwen2.5-VL processor that our built checkpoints (tiny, Lingshu-Nano) save.

Its image and video processors must use the vision tower's own patch, temporal patch and
merge sizes, or the number of image tokens in the prompt will not match the tower's output.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def save_qwen2_5_vl_processor(
    out: Path,
    tokenizer: Any,
    *,
    vision: Mapping[str, Any],
    min_pixels: int,
    max_pixels: int,
    chat_template: str,
) -> None:
    """Write the processor of a Qwen2.5-VL whose vision config is ``vision`` to ``out``."""
    from transformers import Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    patch = dict(
        patch_size=vision["patch_size"],
        temporal_patch_size=vision["temporal_patch_size"],
        merge_size=vision["spatial_merge_size"],
    )
    Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=min_pixels, max_pixels=max_pixels, **patch),
        video_processor=Qwen2VLVideoProcessor(**patch),
        tokenizer=tokenizer,
        chat_template=chat_template,
    ).save_pretrained(out)
