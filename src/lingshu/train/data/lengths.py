"""A sample's token length and assistant-token count from metadata alone: the text through
the chat template and the tokenizer, each image from its header (its pixels are never decoded).

Why: the trainer needs every sample's length before step 1 (packing, the steps of an epoch,
the loss denominator of each step). Decoding and processing every image for that, on every
rank, is what made the eager loader take hours and terabytes at the paper's scale (issue 19).
The numbers here equal what :func:`lingshu.train.data.sft.encode` produces for the same row
(tests/train/test_sft_stream.py checks it sample by sample); the lazy dataset re-checks each
sample when it is really encoded.

The image count follows the two resizes ``encode`` applies: :func:`~lingshu.train.data.sft.fit_pixels`
(aspect kept, area into ``[min_pixels, max_pixels]``) and then the Qwen2-VL processor's own
``smart_resize`` to a multiple of ``patch_size * merge_size``; the processor tells the patch
count for a size (``get_number_of_image_patches``, the method vLLM uses for the same purpose),
and one language-model token stands for ``merge_size**2`` patches. The GRPO data check counts
its prompts the same way (``image_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lingshu.train.data.sft import (
    BadSample,
    Conversation,
    _template_messages,
    assistant_header_ids,
    assistant_spans,
    fit_pixels,
)


def image_tokens(processor: Any, width: int, height: int, min_pixels: int | None = None,
                 max_pixels: int | None = None) -> int | None:
    """Language-model tokens of one ``width`` x ``height`` image after the processor's resize
    (``min_pixels``/``max_pixels`` override the processor's own limits); ``None`` when the
    processor cannot tell from the size alone (not the Qwen2-VL family)."""
    ip = getattr(processor, "image_processor", None)
    if not (hasattr(ip, "get_number_of_image_patches") and hasattr(ip, "merge_size")):
        return None
    kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
    return ip.get_number_of_image_patches(height, width, kwargs) // ip.merge_size**2


def header_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image's header; raises :class:`BadSample` as ``load_images``
    would (missing file, or a file no image reader recognises)."""
    from PIL import Image

    if not path.is_file():
        raise BadSample("missing_image", f"image {path} not found")
    try:
        with Image.open(path.open_bytes() if hasattr(path, "open_bytes") else path) as im:
            return im.size
    except Exception as e:  # any header failure is this sample's problem only
        raise BadSample("corrupt_image", f"image {path} cannot be decoded: {type(e).__name__}") from None


class LengthCounter:
    """Lengths and assistant-token counts of conversations, many at a time.

    ``measure`` takes normalised conversations (or :class:`BadSample`) and returns, per item,
    ``(length, label tokens)`` or the ``BadSample``. Image sizes are remembered by path (the
    last 64K paths: datasets reuse images across turns and neighbouring rows).
    """

    def __init__(self, processor: Any, min_pixels: int, max_pixels: int) -> None:
        tok = processor.tokenizer
        self.processor, self.tok = processor, tok
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.header = assistant_header_ids(tok)
        self.end_id = tok.convert_tokens_to_ids("<|im_end|>")
        self.pad_id = tok.convert_tokens_to_ids("<|image_pad|>")
        self._sizes: dict[Path, Any] = {}
        if image_tokens(processor, 28, 28) is None:
            raise ValueError(f"{type(getattr(processor, 'image_processor', None)).__name__} cannot count "
                             "image tokens from the image size; the lazy SFT data needs a Qwen2-VL-family processor")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for the length pass's worker processes (``index_pool``) without the size
        cache: it can be large, and it holds exceptions, which do not pickle."""
        return {**self.__dict__, "_sizes": {}}

    def image_counts(self, conv: Conversation) -> list[int]:
        """Tokens of each image of ``conv``, in order; the first unusable image raises."""
        return [self.tokens(w, h) for w, h in self.image_sizes(conv)]

    def tokens(self, width: int, height: int) -> int:
        """Tokens of one image already resized by ``fit_pixels``."""
        return image_tokens(self.processor, width, height, self.min_pixels, self.max_pixels)

    def image_sizes(self, conv: Conversation) -> list[tuple[int, int]]:
        """Each image of ``conv`` resized by ``fit_pixels`` (from its header), in order; the
        first unusable image raises."""
        out = []
        for p in conv.images:
            got = self._sizes.get(p)
            if got is None:
                try:
                    got = header_size(p)
                except BadSample as e:
                    got = e
                if len(self._sizes) >= 65536:  # bounded: reuse is local (turns, neighbouring rows)
                    self._sizes.clear()
                self._sizes[p] = got
            if isinstance(got, BadSample):
                raise got
            out.append(fit_pixels(got[0], got[1], self.min_pixels, self.max_pixels))
        return out

    def measure(self, items: Sequence[Conversation | BadSample]) -> list[Any]:
        chats, slots, sizes = [], [], []
        out: list[Any] = list(items)
        for k, conv in enumerate(items):
            if isinstance(conv, BadSample):
                continue
            try:
                sizes.append(self.image_sizes(conv))
            except BadSample as e:
                out[k] = e
                continue
            chats.append(_template_messages(conv))
            slots.append(k)
        if chats:  # one call for the chunk: the processor's per-call overhead was a fifth of the template's cost
            ids = self._tokenize(self.render(chats))
            for k, row, per_image in zip(slots, ids, sizes):
                out[k] = self._finish(row, per_image)
        return out

    def render(self, chats: list[list[dict]]) -> list[str]:
        """The chat template's text of each conversation."""
        return self.processor.apply_chat_template(chats, tokenize=False)

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without added special tokens. A fast tokenizer's Rust
        backend is called directly: transformers' per-text conversion of its output cost
        as much as the tokenization itself in the length pass."""
        backend = getattr(self.tok, "backend_tokenizer", None)
        if backend is None:
            return self.tok(texts, add_special_tokens=False)["input_ids"]
        return encode_ids(backend, texts)

    def _finish(self, ids: list[int], sizes: list[tuple[int, int]]) -> Any:
        """(length after each ``<|image_pad|>`` expands to its image's tokens, label tokens)."""
        base, labels, in_span = self.text_counts(ids, len(sizes))
        per_image = [self.tokens(w, h) for w, h in sizes]
        # a pad inside an assistant span is labelled, and so is every token it expands to
        return base + sum(per_image), labels + sum(n - 1 for n, inside in zip(per_image, in_span) if inside)

    def text_counts(self, ids: list[int], n_images: int) -> tuple[int, int, list[bool]]:
        """(tokens other than the ``<|image_pad|>`` of each image, assistant tokens among
        them, whether each image's pad lies in an assistant span)."""
        spans = assistant_spans(ids, self.header, self.end_id)
        n_label = sum(b - a for a, b in spans)
        pads = [i for i, t in enumerate(ids) if t == self.pad_id] if n_images else []
        if len(pads) != n_images:
            raise BadSample("schema", f"{len(pads)} image tokens in the templated text for {n_images} images")
        return len(ids) - len(pads), n_label, [any(a <= i < b for a, b in spans) for i in pads]


def encode_ids(backend: Any, texts: list[str]) -> list[list[int]]:
    """Token ids from a ``tokenizers.Tokenizer``, without character offsets where the library
    can (``encode_batch_fast``, tokenizers >= 0.21): the same ids, about 15% less time."""
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
    return [e.ids for e in encode(texts, add_special_tokens=False)]
