"""Chat messages -> model inputs, one request at a time; batches of them.

The only place in Lingshu that turns a conversation into token ids and pixels. Each request
is encoded on its own (chat template, tokenizer, image processor), in the caller's thread,
so that a malformed request fails there (``PromptError``, a ``SampleError``: the eval runner
records it for that sample, the server answers 400) and the engine only sees valid inputs.
:func:`collate` joins encoded requests into one batch: token tensors left-padded
(generation appends on the right, so every row's last position is real) and vision tensors,
which carry no batch dimension, concatenated in row order.

Three model families: Qwen2-VL-architecture models (Lingshu, Lingshu-Nano, the tiny
model) and other image-text-to-text models through their processor; text-only causal LMs
through their tokenizer (the bare text when the checkpoint has no chat template).

Text that a user wrote is never turned into control tokens: a question containing
``<|im_start|>`` must reach the model as those characters, not as a turn boundary it could
use to forge a system turn. Conversations without such strings are encoded exactly as the
processor encodes the rendered template (so answers and caches are unchanged); the others
have each offending text piece replaced by a marker token, and the marker replaced by the
piece's own tokens with special-token matching off.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lingshu.core.errors import SampleError

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from lingshu.models import LoadedModel

TOKEN_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")
"""Inputs with one entry per token: padded on the left in a batch (input ids with the pad
id, the rest with 0: masked out, and "text" for the multimodal token-type ids)."""


class PromptError(SampleError, ValueError):
    """The request cannot be turned into a prompt for this model (the caller's mistake)."""


@dataclass
class EncodedPrompt:
    """A request ready for the model: tensors with a batch dimension of 1."""

    inputs: dict[str, torch.Tensor]

    @property
    def n_tokens(self) -> int:
        return int(self.inputs["input_ids"].shape[1])

    @property
    def has_images(self) -> bool:
        return any(k not in TOKEN_KEYS for k in self.inputs)

    def token_ids(self) -> list[int]:
        return self.inputs["input_ids"][0].tolist()

    @classmethod
    def from_ids(cls, ids: list[int]) -> EncodedPrompt:
        """A prompt tokenized by the caller (a reference implementation's own recipe)."""
        import torch

        t = torch.tensor([ids], dtype=torch.long)
        return cls({"input_ids": t, "attention_mask": torch.ones_like(t)})


class PromptEncoder:
    """Applies the model's chat template and processor to one conversation.

    ``lock`` serialises every use of the tokenizer: a fast tokenizer shared between
    request threads and the generation worker must not be entered twice at once.
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.kind = loaded.kind
        self.processor = loaded.processor
        self.tokenizer = loaded.tokenizer
        self.accepts_images = loaded.kind != "causal_lm"
        self.templated = getattr(self.tokenizer, "chat_template", None) is not None or (
            self.accepts_images and getattr(self.processor, "chat_template", None) is not None
        )
        self.lock = threading.RLock()
        self._specials = _special_strings(self.tokenizer)

    def encode(self, messages: list[dict[str, Any]]) -> EncodedPrompt:
        """One conversation -> inputs ending with the assistant turn's opening."""
        templated, images = self._split_images(messages)
        if images and not self.accepts_images:
            raise PromptError(
                "the request has an image but the model is text-only; use a "
                "vision-language model or remove the image parts"
            )
        try:
            with self.lock, _one_torch_thread():
                return self._encode(templated, images)
        except ValueError as e:
            if isinstance(e, PromptError):
                raise
            # What processors refuse is the request's doing: e.g. Qwen2.5-VL rejects images
            # with an aspect ratio above 200. Their messages name no files or internals.
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise PromptError(f"the model's processor cannot prepare this request: {first}") from None

    def render(self, messages: list[dict[str, Any]]) -> str:
        """The prompt as text (chat template applied), images as their placeholders."""
        templated, _ = self._split_images(messages)
        with self.lock:
            return self._render(templated)

    # -- internals ------------------------------------------------------------------------

    def _render(self, templated: list[dict[str, Any]]) -> str:
        if self.accepts_images:
            return self.processor.apply_chat_template(
                templated, add_generation_prompt=True, tokenize=False
            )
        if self.templated:
            return self.tokenizer.apply_chat_template(
                templated, add_generation_prompt=True, tokenize=False
            )
        return "\n".join(m["content"] for m in templated)  # a base model: the bare text

    def _encode(self, templated: list[dict[str, Any]], images: list[Image.Image]) -> EncodedPrompt:
        risky = _risky_texts(templated, self._specials)
        if not risky:
            return self._encode_text(self._render(templated), images)
        return self._encode_guarded(templated, images, risky)

    def _encode_text(self, text: str, images: list[Image.Image]) -> EncodedPrompt:
        if not self.accepts_images:
            # A chat template writes BOS and turn tokens itself; a bare text gets the
            # tokenizer's own special tokens.
            enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=not self.templated)
            return EncodedPrompt({k: enc[k] for k in ("input_ids", "attention_mask")})
        enc = self.processor(
            text=[text], images=images or None, return_tensors="pt", add_special_tokens=False
        )
        return EncodedPrompt(dict(enc))

    def _encode_guarded(
        self,
        templated: list[dict[str, Any]],
        images: list[Image.Image],
        risky: set[str],
    ) -> EncodedPrompt:
        """Encode with each text piece in ``risky`` as plain characters (see module doc)."""
        import torch

        for marker in self._specials:
            if any(marker in t for t in risky):
                continue
            pieces: list[str] = []
            masked = _replace_texts(templated, risky, marker, pieces)
            text = self._render(masked)
            if text.count(marker) != len(pieces):
                continue  # the template writes this token itself; try another
            enc = self._encode_text(text, images)
            marker_id = self.tokenizer.convert_tokens_to_ids(marker)
            ids = enc.inputs["input_ids"][0].tolist()
            where = [i for i, t in enumerate(ids) if t == marker_id]
            if len(where) != len(pieces):
                continue
            plain = [
                self.tokenizer(p, add_special_tokens=False, split_special_tokens=True).input_ids
                for p in pieces
            ]
            out: dict[str, torch.Tensor] = {}
            for key, t in enc.inputs.items():
                if key not in TOKEN_KEYS:
                    out[key] = t
                    continue
                row = t[0].tolist()
                spliced: list[int] = []
                start = 0
                for pos, piece in zip(where, plain, strict=True):
                    spliced += row[start:pos]
                    fill = piece if key == "input_ids" else [1 if key == "attention_mask" else 0] * len(piece)
                    spliced += fill
                    start = pos + 1
                spliced += row[start:]
                out[key] = torch.tensor([spliced], dtype=t.dtype)
            return EncodedPrompt(out)
        raise PromptError("the request's text cannot be encoded safely for this model")

    def _split_images(
        self, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[Image.Image]]:
        """Messages for the chat template (image parts without pixels) and the images in
        the order their placeholders appear. Text-only models get plain string content
        (text parts joined), which is what their templates expect. Keys other than
        ``content`` are kept (GREEN's templates read ``from``/``value``)."""
        images: list[Image.Image] = []
        out: list[dict[str, Any]] = []
        for msg in messages:
            if "role" not in msg:
                raise PromptError("a message has no role")
            content = msg.get("content")
            rest = {k: v for k, v in msg.items() if k != "content"}
            if content is None or isinstance(content, str):
                out.append({**rest, "content": content or ""})
                continue
            parts: list[dict[str, Any]] = []
            for part in content:
                kind = part.get("type")
                if kind == "image":
                    images.append(_as_image(part.get("image") or part.get("path")))
                    parts.append({"type": "image"})
                elif kind == "text":
                    parts.append({"type": "text", "text": part.get("text", "")})
                else:
                    raise PromptError(f"message part of type {kind!r} is not supported")
            if not self.accepts_images:
                text = "".join(p["text"] for p in parts if p["type"] == "text")
                out.append({**rest, "content": text})
            else:
                out.append({**rest, "content": parts})
        return out, images


def _special_strings(tokenizer: Any) -> list[str]:
    """The strings a tokenizer turns into special tokens (longest first)."""
    found = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for tok in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).values():
        if getattr(tok, "special", False):
            found.add(str(tok.content if hasattr(tok, "content") else tok))
    return sorted((s for s in found if s), key=lambda s: (-len(s), s))


def _texts(templated: list[dict[str, Any]]) -> Iterator[str]:
    for m in templated:
        c = m.get("content")
        if isinstance(c, str):
            yield c
        elif isinstance(c, list):
            yield from (p["text"] for p in c if p.get("type") == "text")


def _risky_texts(templated: list[dict[str, Any]], specials: list[str]) -> set[str]:
    return {t for t in _texts(templated) if any(s in t for s in specials)}


def _replace_texts(
    templated: list[dict[str, Any]], risky: set[str], marker: str, pieces: list[str]
) -> list[dict[str, Any]]:
    """``templated`` with each risky text replaced by ``marker``; ``pieces`` collects the
    replaced texts in order of appearance."""
    out = []
    for m in templated:
        c = m.get("content")
        if isinstance(c, str):
            if c in risky:
                pieces.append(c)
                c = marker
        elif isinstance(c, list):
            parts = []
            for p in c:
                if p.get("type") == "text" and p["text"] in risky:
                    pieces.append(p["text"])
                    p = {"type": "text", "text": marker}
                parts.append(p)
            c = parts
        out.append({**m, "content": c})
    return out


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Preprocess on one intra-op thread (a per-thread setting with OpenMP).

    The processor's tensors are small; spreading them over OpenMP threads costs more than
    it saves: on 2 cores one Qwen2.5-VL processor call for a 224 px image took 32 ms with 2
    threads and 2 ms with 1. The generation worker keeps its own thread count.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _as_image(value: Any) -> Image.Image:
    from PIL import Image

    if isinstance(value, Image.Image):
        return value if value.mode == "RGB" else value.convert("RGB")
    if isinstance(value, (str, Path)) and str(value):
        from lingshu.models.images import load_image

        return load_image(value)  # SampleError naming the file when unreadable
    raise PromptError(
        f"an image part holds {type(value).__name__}, expected a PIL image or a file path"
    )


def collate(prompts: list[EncodedPrompt], pad_token_id: int) -> dict[str, torch.Tensor]:
    """One batch from encoded requests: token keys left-padded, vision keys concatenated.

    Token keys are the same for every request of one encoder; vision keys appear only in
    requests with images and are concatenated over those, in row order, which is how the
    model matches image features to placeholder tokens.
    """
    import torch

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
    import torch

    pad = torch.full((t.shape[0], width - t.shape[1]), fill, dtype=t.dtype)
    return torch.cat([pad, t], dim=1)
