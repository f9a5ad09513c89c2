"""RL rows -> the dataset TRL's GRPOTrainer reads.

Each kept row becomes ``prompt`` (a conversational prompt: one user turn whose text is the
question rendered through the stage's versioned prompt), ``images`` (resolved paths; the
``datasets`` Image feature decodes them when a batch is drawn, so memory holds no image
set) and the gold columns the rewards read: ``answer`` (always a list of accepted
strings), ``question_type`` and ``options``. TRL puts one image placeholder per image in
front of the text (its ``prepare_multimodal_messages``), so the processor's chat template
writes the vision tokens.

Rows that cannot train (bad schema, missing or unreadable image, a prompt longer than
``max_prompt_length`` tokens, which TRL 1.16 no longer truncates) are skipped with a
reason; the caller writes them to ``exclusions.jsonl`` and counts them in the summary.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.train.grpo.config import GRPOStageConfig
from lingshu.train.grpo.prompts import get_prompt
from lingshu.train.grpo.rows import RLRow, RowError, parse_rl_row, resolve_image


@dataclass
class BuiltData:
    dataset: Any  # datasets.Dataset
    kept: int
    excluded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def excluded_by_reason(self) -> dict[str, int]:
        return dict(Counter(e["reason"] for e in self.excluded))


def _read_lines(path: Path) -> list[tuple[int, Any]]:
    if not path.is_file():
        raise UserError(f"{path}: RL data file not found; check the stage's data paths")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError:
                rows.append((lineno, RowError("line is not valid JSON")))
    return rows


def _apply_ratio(rows: list, ratio: float, rng: random.Random) -> list:
    whole, frac = int(ratio), ratio - int(ratio)
    out = rows * whole
    if frac:
        out += rng.sample(rows, round(len(rows) * frac))
    return out


def build_grpo_dataset(
    config: GRPOStageConfig,
    *,
    seed: int,
    base_dir: Path | None = None,
    processor: Any = None,
) -> BuiltData:
    """Read, check and render the stage's data. With ``processor``, prompts are tokenised
    (images included) and rows over ``max_prompt_length`` are excluded."""
    from datasets import Dataset, Features, Image, List, Value

    prompt = get_prompt(config.prompt_variant, config.prompt_version)
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for source in config.data:
        path = source.path if source.path.is_absolute() else (base_dir or Path.cwd()) / source.path
        lines = _apply_ratio(_read_lines(path), source.ratio, rng)
        for lineno, raw in lines:
            where = {"file": str(path), "line": lineno}
            try:
                if isinstance(raw, RowError):
                    raise raw
                row = parse_rl_row(raw, lineno)
                images = [resolve_image(p, path.parent) for p in row.images]
                for img in images:
                    if not img.is_file():
                        raise RowError(f"image not found: {img}")
                record = _record(row, prompt.render(_question_with_options(row)), images)
                if processor is not None:
                    n = _prompt_tokens(processor, record)
                    if n > config.max_prompt_length:
                        raise RowError(
                            f"prompt too long: {n} tokens > max_prompt_length "
                            f"{config.max_prompt_length}"
                        )
            except RowError as e:
                excluded.append({**where, "reason": _reason_key(str(e)), "detail": str(e)})
                continue
            records.append(record)
    if not records:
        raise UserError(
            f"stage {config.name!r}: no usable RL rows ({len(excluded)} excluded; first reason: "
            f"{excluded[0]['detail'] if excluded else 'no rows'}); see CONTRACTS.md point 2"
        )
    with_images = [r for r in records if r["images"]]
    if with_images and len(with_images) < len(records):
        first = next(r["id"] for r in records if not r["images"])
        raise UserError(
            f"stage {config.name!r}: {len(with_images)} RL rows have images and "
            f"{len(records) - len(with_images)} do not (first: {first}); TRL's GRPO cannot batch "
            "image and text-only prompts together: train them in separate GRPO stages"
        )
    features = Features(
        {
            "id": Value("string"),
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "images": List(Image()),
            "answer": List(Value("string")),
            "question_type": Value("string"),
            "options": Value("string"),
            "modality": Value("string"),
        }
    )
    dataset = Dataset.from_list(records, features=features)
    # Options travel as JSON text: an Arrow struct would give every row every letter.
    return BuiltData(dataset=dataset.with_transform(_decode_options), kept=len(records),
                     excluded=excluded)


def _decode_options(batch: dict[str, list]) -> dict[str, list]:
    batch = dict(batch)
    if "options" in batch:
        batch["options"] = [json.loads(o) if o else None for o in batch["options"]]
    return batch


def _question_with_options(row: RLRow) -> str:
    """The question as the model sees it: options listed under it when not already there."""
    if not row.options:
        return row.question
    lines = [f"{k}. {v}" for k, v in row.options.items()]
    if all(line in row.question for line in lines):
        return row.question
    return row.question + "\n" + "\n".join(lines)


def _record(row: RLRow, text: str, images: list[Path]) -> dict[str, Any]:
    return {
        "id": row.id,
        "prompt": [{"role": "user", "content": text}],
        "images": [str(p) for p in images],
        "answer": row.answer,
        "question_type": row.question_type,
        "options": json.dumps(row.options, ensure_ascii=False) if row.options else "",
        "modality": row.modality,
    }


def _prompt_tokens(processor: Any, record: dict[str, Any]) -> int:
    """Prompt length in tokens as the trainer will see it (vision tokens included).

    For the Qwen2-VL family the image tokens are counted from the image's size alone (its
    header is read, not its pixels): one ``<|image_pad|>`` in the templated text expands to
    ``patches / merge_size**2`` tokens. Checking 100K rows this way takes seconds, where
    running the image processor on each would take many minutes on every rank. Other
    processors are run in full.
    """
    from PIL import Image as PILImage

    sizes = []
    for p in record["images"]:
        try:
            with PILImage.open(p) as im:
                sizes.append(im.size)  # (width, height); pixels are not decoded
        except OSError as e:
            raise RowError(f"image unreadable: {p} ({e})") from None
    text = record["prompt"][0]["content"]
    content = [{"type": "image"} for _ in sizes] + [{"type": "text", "text": text}]
    messages = [{"role": "user", "content": content if sizes else text}]
    templated = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    tokenizer = getattr(processor, "tokenizer", processor)
    n_text = len(tokenizer(templated)["input_ids"])
    if not sizes:
        return n_text
    from lingshu.train.data.lengths import image_tokens

    per_image = [image_tokens(processor, w, h) for w, h in sizes]
    if None not in per_image:
        return n_text - len(sizes) + sum(per_image)  # each placeholder becomes per_image tokens
    images = []
    for p in record["images"]:
        with PILImage.open(p) as im:
            images.append(im.convert("RGB"))
    return len(processor(text=[templated], images=images)["input_ids"][0])


def _reason_key(detail: str) -> str:
    """Group details into countable reasons ('image not found: x.png' -> 'image not found')."""
    return detail.split(":")[0].split(" > ")[0].split(" (")[0] if detail else "unknown"
