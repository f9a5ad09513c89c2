"""Chat messages -> model inputs, one request at a time, and batches of them.

Each request is encoded on its own (chat template, tokenizer, image processor) in the
thread that received it, so a malformed request fails there with a client error and the
generation worker only ever sees inputs that are known to be valid. The worker then joins
several encoded requests into one batch with :func:`collate`: token tensors are padded on
the left (generation appends on the right, so every row's last position must be real) and
vision tensors, which carry no batch dimension, are concatenated in row order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

if TYPE_CHECKING:
    from lingshu.models import LoadedModel

TOKEN_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")
"""Inputs with one entry per token: padded on the left in a batch (input ids with the pad
id, the rest with 0: masked out, and "text" for the multimodal token-type ids)."""


class PromptError(ValueError):
    """The request cannot be turned into a prompt for this model (the client's mistake)."""


@dataclass
class EncodedPrompt:
    """A request ready for the model: tensors with a batch dimension of 1."""

    inputs: dict[str, torch.Tensor]

    @property
    def n_tokens(self) -> int:
        return int(self.inputs["input_ids"].shape[1])


class PromptEncoder:
    """Applies the model's chat template and processor to one conversation.

    ``lock`` serialises every use of the tokenizer: a fast tokenizer shared between
    request threads and the generation worker must not be entered twice at once.
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.processor = loaded.processor
        self.tokenizer = loaded.tokenizer
        self.accepts_images = loaded.kind != "causal_lm"
        self.lock = threading.RLock()

    def encode(self, messages: list[dict[str, Any]]) -> EncodedPrompt:
        templated, images = self._split_images(messages)
        if images and not self.accepts_images:
            raise PromptError("this model reads text only; remove the image parts")
        try:
            with self.lock, _one_torch_thread():
                return self._encode(templated, images)
        except ValueError as e:
            # What processors refuse is the request's doing: e.g. Qwen2.5-VL rejects images
            # with an aspect ratio above 200. Their messages name no files or internals.
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise PromptError(f"the model's processor cannot prepare this request: {first}") from None

    def _encode(self, templated: list[dict[str, Any]], images: list[Image.Image]) -> EncodedPrompt:
        if not self.accepts_images:
            enc = self.tokenizer.apply_chat_template(
                templated,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
            )
            return EncodedPrompt({k: enc[k] for k in ("input_ids", "attention_mask")})
        text = self.processor.apply_chat_template(templated, add_generation_prompt=True, tokenize=False)
        enc = self.processor(
            text=[text], images=images or None, return_tensors="pt", add_special_tokens=False
        )
        return EncodedPrompt(dict(enc))

    def _split_images(
        self, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[Image.Image]]:
        """Messages for the chat template (image parts without pixels) and the images in
        the order their placeholders appear. Text-only models get plain string content,
        which is what their templates expect."""
        images: list[Image.Image] = []
        out: list[dict[str, Any]] = []
        for msg in messages:
            content = msg.get("content")
            if content is None or isinstance(content, str):
                out.append({"role": msg["role"], "content": content or ""})
                continue
            parts: list[dict[str, Any]] = []
            for part in content:
                if part.get("type") == "image":
                    images.append(_as_image(part["image"]))
                    parts.append({"type": "image"})
                else:
                    parts.append({"type": "text", "text": part.get("text", "")})
            if not self.accepts_images:
                text = "\n".join(p["text"] for p in parts if p["type"] == "text")
                out.append({"role": msg["role"], "content": text})
            else:
                out.append({"role": msg["role"], "content": parts})
        return out, images


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Preprocess on one intra-op thread (a per-thread setting with OpenMP).

    The processor's tensors are small; spreading them over OpenMP threads costs more than
    it saves: on 2 cores one Qwen2.5-VL processor call for a 224 px image took 32 ms with 2
    threads and 2 ms with 1. The generation worker keeps its own thread count.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _as_image(value: Any) -> Image.Image:
    if isinstance(value, Image.Image):
        return value if value.mode == "RGB" else value.convert("RGB")
    if isinstance(value, (str, Path)):
        from lingshu.models.images import load_image

        return load_image(value)
    raise PromptError(f"an image part holds {type(value).__name__}, expected a PIL image or a path")


def collate(prompts: list[EncodedPrompt], pad_token_id: int) -> dict[str, torch.Tensor]:
    """One batch from encoded requests: token keys left-padded, vision keys concatenated.

    Token keys are the same for every request of one encoder; vision keys appear only in
    requests with images and are concatenated over those, in row order, which is how the
    model matches image features to placeholder tokens.
    """
    if len(prompts) == 1:
        return dict(prompts[0].inputs)
    width = max(p.n_tokens for p in prompts)
    batch: dict[str, torch.Tensor] = {}
    for key in dict.fromkeys(k for p in prompts for k in p.inputs):
        if key in TOKEN_KEYS:
            fill = pad_token_id if key == "input_ids" else 0
            batch[key] = torch.cat([_left_pad(p.inputs[key], width, fill) for p in prompts])
        else:
            batch[key] = torch.cat([p.inputs[key] for p in prompts if key in p.inputs])
    return batch


def _left_pad(t: torch.Tensor, width: int, fill: int) -> torch.Tensor:
    pad = torch.full((t.shape[0], width - t.shape[1]), fill, dtype=t.dtype)
    return torch.cat([pad, t], dim=1)
