"""SFT data: three conversation styles in, token ids with assistant-only labels out.

Rows are read from JSONL (CONTRACTS §2): Qwen-messages (canonical), LLaVA
(``image`` + ``conversations`` with ``from``/``value`` and ``<image>`` placeholders) and
ShareGPT (``messages``/``conversations`` with ``role``/``content`` strings and ``images``).
Text-only rows are simply rows without images.

Every row is encoded before training starts. A row that cannot be used (bad JSON or not
UTF-8, wrong schema, empty turn, no assistant turn, missing or corrupt image, longer than ``max_length``)
is skipped with a reason, counted, and written to the stage's exclusions file: a bad sample
never crashes a run in its tenth hour.

Labels: the loss covers assistant turns only, i.e. every token after each
``<|im_start|>assistant\\n`` header up to and including its ``<|im_end|>`` (so the model
learns to stop); system, user and image tokens are -100. The header is found in the token
ids after the processor expanded the image placeholders, so the mask is right whatever the
number of image tokens.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.train.config.data_paths import expand_entries

IGNORE = -100
_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
         "system": "system", "bot": "assistant", "model": "assistant"}


class BadSample(Exception):
    """A row that cannot be trained on; ``reason`` is a short stable key for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Conversation:
    """A row normalised to Qwen-messages, images resolved to absolute paths in order."""

    id: str
    messages: list[dict]
    images: list[Path]


@dataclass
class Encoded:
    """One sample, tokenized. ``pixel_values`` rows belong to this sample's images."""

    id: str
    input_ids: Any  # LongTensor [L]
    labels: Any  # LongTensor [L]
    mm_token_type_ids: Any  # LongTensor [L]
    pixel_values: Any | None = None  # [patches, C*T*P*P]
    image_grid_thw: Any | None = None  # [n_images, 3]
    images: list[Any] | None = None  # the resized PIL images, kept only for augmentation

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def n_label_tokens(self) -> int:
        return int((self.labels != IGNORE).sum())


@dataclass
class Exclusions:
    counts: Counter = field(default_factory=Counter)
    rows: list[dict] = field(default_factory=list)

    def add(self, file: str, line: int, row_id: str | None, err: BadSample) -> None:
        self.counts[err.reason] += 1
        self.rows.append({"file": file, "line": line, "id": row_id, "reason": err.reason, "detail": err.detail})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# --------------------------------------------------------------------------- styles


def detect_style(row: dict) -> str:
    if "conversations" in row and isinstance(row["conversations"], list) and row["conversations"] \
            and isinstance(row["conversations"][0], dict) and "from" in row["conversations"][0]:
        return "llava"
    msgs = row.get("messages", row.get("conversations"))
    if isinstance(msgs, list) and msgs and isinstance(msgs[0], dict):
        if any(isinstance(m.get("content"), list) for m in msgs):
            return "qwen"
        return "sharegpt" if ("images" in row or "image" in row) else "qwen"
    raise BadSample("schema", "no 'messages' or 'conversations' list of turns")


def _text_to_parts(text: str, images: list[Path], used: list[int]) -> list[dict]:
    """Split a string on ``<image>`` into image and text parts, consuming ``images``."""
    parts: list[dict] = []
    chunks = text.split("<image>")
    for i, chunk in enumerate(chunks):
        if i > 0:
            if used[0] >= len(images):
                raise BadSample("schema", "more <image> placeholders than images")
            parts.append({"type": "image", "image": str(images[used[0]])})
            used[0] += 1
        chunk = chunk.strip("\n") if i > 0 or len(chunks) > 1 else chunk
        if chunk:
            parts.append({"type": "text", "text": chunk})
    return parts


def normalise(row: dict, base: Path, style: str = "auto", resolve: Any = None) -> Conversation:
    """Any supported style -> :class:`Conversation` (raises :class:`BadSample`). ``resolve``
    turns an image reference into what ``images`` holds (default: a path against ``base``;
    a WebDataset shard resolves its own members, ``sources``)."""
    resolve = resolve or _resolve
    if not isinstance(row, dict):
        raise BadSample("schema", "row is not a JSON object")
    style = detect_style(row) if style == "auto" else style
    rid = str(row.get("id", ""))
    if style == "qwen":
        msgs_in = row.get("messages")
        if not isinstance(msgs_in, list):
            raise BadSample("schema", "qwen style needs a 'messages' list")
        messages, images = [], []
        for m in msgs_in:
            role = _ROLE.get(str(m.get("role", "")) if isinstance(m, dict) else "")
            if role is None:
                raise BadSample("schema", f"unknown role {m.get('role') if isinstance(m, dict) else m!r}")
            content = m.get("content")
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            if not isinstance(content, list):
                raise BadSample("schema", "content must be a string or a list of parts")
            parts = []
            for part in content:
                if not isinstance(part, dict):
                    raise BadSample("schema", "content part is not an object")
                if part.get("type") == "image" or "image" in part:
                    img = part.get("image") or part.get("path") or part.get("url")
                    if not isinstance(img, str):
                        raise BadSample("schema", "image part without a path")
                    p = resolve(img, base)
                    images.append(p)
                    parts.append({"type": "image", "image": str(p)})
                elif part.get("type") == "text" or "text" in part:
                    parts.append({"type": "text", "text": str(part.get("text", ""))})
                else:
                    raise BadSample("schema", f"unsupported content part type {part.get('type')!r}")
            messages.append({"role": role, "content": parts})
    else:
        turns = row.get("conversations") if style == "llava" else row.get("messages", row.get("conversations"))
        if not isinstance(turns, list):
            raise BadSample("schema", f"{style} style needs a list of turns")
        raw_imgs = row.get("images", row.get("image", []))
        raw_imgs = [raw_imgs] if isinstance(raw_imgs, str) else (raw_imgs or [])
        if not all(isinstance(x, str) for x in raw_imgs):
            raise BadSample("schema", "images must be paths")
        images = [resolve(x, base) for x in raw_imgs]
        used = [0]
        messages = []
        rk, ck = ("from", "value") if style == "llava" else ("role", "content")
        for t in turns:
            if not isinstance(t, dict) or not isinstance(t.get(ck), str):
                raise BadSample("schema", f"each turn needs '{rk}' and a string '{ck}'")
            role = _ROLE.get(str(t.get(rk)))
            if role is None:
                raise BadSample("schema", f"unknown role {t.get(rk)!r}")
            messages.append({"role": role, "content": _text_to_parts(t[ck], images, used)})
        if used[0] < len(images):  # images without placeholders go before the first user text
            first = next((m for m in messages if m["role"] == "user"), None)
            if first is None:
                raise BadSample("schema", "images but no user turn")
            extra = [{"type": "image", "image": str(p)} for p in images[used[0]:]]
            first["content"] = extra + first["content"]
    _check_turns(messages)
    return Conversation(id=rid, messages=messages, images=images)


def _resolve(p: str, base: Path) -> Path:
    path = Path(p)
    return path if path.is_absolute() else (base / path)


def _check_turns(messages: list[dict]) -> None:
    if not messages:
        raise BadSample("empty_turn", "no turns")
    for m in messages:
        texts = [p for p in m["content"] if p["type"] == "text" and p["text"].strip()]
        if not texts and not any(p["type"] == "image" for p in m["content"]):
            raise BadSample("empty_turn", f"empty {m['role']} turn")
        if m["role"] == "assistant" and not texts:
            raise BadSample("empty_turn", "assistant turn without text")
    if not any(m["role"] == "assistant" for m in messages):
        raise BadSample("no_assistant", "no assistant turn to learn from")


# --------------------------------------------------------------------------- images


def fit_pixels(width: int, height: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Scale (w, h), keeping the aspect ratio, so that w*h lies in [min_pixels, max_pixels]."""
    area = width * height
    scale = 1.0
    if area > max_pixels:
        scale = (max_pixels / area) ** 0.5
    elif area < min_pixels:
        scale = (min_pixels / area) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


def load_images(conv: Conversation, min_pixels: int, max_pixels: int) -> list[Any]:
    from PIL import Image

    from lingshu.models.images import load_image

    out = []
    for p in conv.images:
        if not p.is_file():
            raise BadSample("missing_image", f"image {p} not found")
        try:
            own = getattr(p, "load_image", None)  # an image inside a data shard (sources.TarMember)
            img = own() if own is not None else load_image(p)
            img.load()
        except Exception as e:  # any decoder failure is this sample's problem only
            raise BadSample("corrupt_image", f"image {p} cannot be decoded: {type(e).__name__}") from None
        w, h = fit_pixels(img.width, img.height, min_pixels, max_pixels)
        if (w, h) != img.size:
            img = img.resize((w, h), Image.Resampling.BICUBIC)
        out.append(img)
    return out


# --------------------------------------------------------------------------- encoding


def assistant_header_ids(tokenizer: Any) -> list[int]:
    return tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]


def assistant_spans(input_ids: list[int], header: list[int], end_id: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each assistant span: after each header, through its end token (or
    to the end of the sequence). Scans with ``list.index`` (C speed): the length pass runs
    this on every sample of the data set."""
    spans: list[tuple[int, int]] = []
    i, n, h = 0, len(input_ids), len(header)
    if not h:
        return spans
    while i < n:
        try:
            i = input_ids.index(header[0], i)
        except ValueError:
            break
        if input_ids[i : i + h] != header:
            i += 1
            continue
        j = i + h
        try:
            stop = input_ids.index(end_id, j) + 1
        except ValueError:
            stop = n
        if j < n:
            spans.append((j, stop))
        i = stop
    return spans


def assistant_labels(input_ids: list[int], header: list[int], end_id: int) -> list[int]:
    """Labels: assistant spans (after each header, through its end token) keep their ids,
    everything else is -100."""
    labels = [IGNORE] * len(input_ids)
    for a, b in assistant_spans(input_ids, header, end_id):
        labels[a:b] = input_ids[a:b]
    return labels


def _template_messages(conv: Conversation) -> list[dict]:
    return [
        {"role": m["role"], "content": [{"type": "image"} if p["type"] == "image" else p for p in m["content"]]}
        for m in conv.messages
    ]


def encode(processor: Any, conv: Conversation, *, max_length: int, min_pixels: int, max_pixels: int,
           keep_images: bool = False) -> Encoded:
    import torch

    images = load_images(conv, min_pixels, max_pixels)
    text = processor.apply_chat_template(_template_messages(conv), tokenize=False)
    kwargs: dict[str, Any] = {}
    if images:
        kwargs["images"] = images
        kwargs["images_kwargs"] = {"size": {"shortest_edge": min_pixels, "longest_edge": max_pixels}}
    out = processor(text=[text], return_tensors="pt", **kwargs)
    ids = out["input_ids"][0]
    if ids.shape[0] > max_length:
        raise BadSample("too_long", f"{ids.shape[0]} tokens > max_length {max_length}")
    tok = processor.tokenizer
    labels = assistant_labels(ids.tolist(), assistant_header_ids(tok), tok.convert_tokens_to_ids("<|im_end|>"))
    labels_t = torch.tensor(labels, dtype=torch.long)
    if int((labels_t != IGNORE).sum()) == 0:
        raise BadSample("no_assistant", "no assistant tokens after templating")
    tt = out.get("mm_token_type_ids")
    tt = tt[0].long() if tt is not None else torch.zeros_like(ids)
    return Encoded(
        id=conv.id,
        input_ids=ids.long(),
        labels=labels_t,
        mm_token_type_ids=tt,
        pixel_values=out.get("pixel_values") if images else None,
        image_grid_thw=out.get("image_grid_thw") if images else None,
        images=images if (images and keep_images) else None,
    )


def placeholder(pad_id: int) -> Encoded:
    """A one-token sample without targets: stands in for a sample that failed when it was
    finally encoded (the lazy loader), so that its batch keeps its shape and contributes no loss."""
    import torch

    one = torch.tensor([pad_id], dtype=torch.long)
    return Encoded(id="", input_ids=one, labels=torch.tensor([IGNORE], dtype=torch.long),
                   mm_token_type_ids=torch.zeros(1, dtype=torch.long))


def parse_row(raw: bytes) -> Any:
    """One JSONL line -> the parsed row, or a :class:`BadSample` (not UTF-8, not JSON)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        return BadSample("not_utf8", f"not UTF-8 text (byte {e.start})")
    except json.JSONDecodeError as e:
        return BadSample("bad_json", f"not JSON: {e.msg}")


def read_rows(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed row or BadSample) for every non-empty line."""
    rows: list[tuple[int, Any]] = []
    with Path(path).open("rb") as fh:  # bytes: one bad line must not stop the whole file
        for i, raw in enumerate(fh, 1):
            if raw.strip():
                rows.append((i, parse_row(raw)))
    return rows


def mix_split(n: int, ratio: float) -> tuple[int, int]:
    """(whole copies, rows drawn for the fractional part) that ``ratio`` takes of ``n`` rows:
    the one rule ``mix``, the lazy loader and the dry run's row count share."""
    whole = int(ratio)
    return whole, round(n * (ratio - whole))


def mix(rows: list, ratio: float, rng: random.Random) -> list:
    """Take ``ratio`` of ``rows``: whole copies for the integer part, a seeded subset for the rest."""
    whole, k = mix_split(len(rows), ratio)
    out = list(rows) * whole
    if ratio > whole:
        out += [rows[i] for i in sorted(rng.sample(range(len(rows)), k))]
    return out


def load_sft_data(sources: list[Any], processor: Any, *, max_length: int, min_pixels: int,
                  max_pixels: int, seed: int, progress: Any = None,
                  keep_images: bool = False) -> tuple[list[Encoded], Exclusions]:
    """Read and encode a stage's data mixture; bad rows go to the returned exclusions.
    ``keep_images`` keeps each sample's resized images (for per-step augmentation). A
    folder or pattern entry reads as its files listed by hand (``config/data_paths``)."""
    rng = random.Random(seed)
    encoded: list[Encoded] = []
    excl = Exclusions()
    for src in expand_entries(sources):
        path = Path(src.path)
        rows = mix(read_rows(path), src.ratio, rng)
        for line, row in rows:
            rid = row.get("id") if isinstance(row, dict) else None
            try:
                if isinstance(row, BadSample):
                    raise row
                conv = normalise(row, path.parent, src.format)
                encoded.append(encode(processor, conv, max_length=max_length, min_pixels=min_pixels,
                                      max_pixels=max_pixels, keep_images=keep_images))
            except BadSample as e:
                excl.add(str(path), line, rid, e)
            if progress is not None:
                progress()
    return encoded, excl
