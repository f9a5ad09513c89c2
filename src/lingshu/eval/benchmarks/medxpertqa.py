"""MedXpertQA (Zuo et al., ICML 2025): expert-level medical exam questions, two subsets.

Source: Hugging Face ``TsinghuaC3I/MedXpertQA`` (MIT), a repository of JSON Lines files:
``Text/test.jsonl`` (2,450 questions, ten options A-J) and ``MM/test.jsonl`` (2,000
questions, five options A-E, with images listed by file name and shipped in ``images.zip``),
plus five-question ``dev.jsonl`` files. Fields: ``id`` ("Text-0", "MM-26"), ``question``,
``options`` {letter: text}, ``label`` (gold letter), ``images`` (MM only), ``medical_task``,
``body_system``, ``question_type``; the last three are the breakdown categories.

The released ``question`` already ends with the choices ("Answer Choices: (A) ... (B) ...").
We keep it verbatim, as MedEvalKit does, so prompts built from ``Sample.options`` repeat the
choices exactly as the published numbers were measured.

Both subsets share this module because they share the release format; the MM loader resolves
image names against ``images/`` (where ``images.zip`` unpacks) and also accepts exports that
embed the image bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import (
    find_hf_export,
    iter_jsonl,
    load_hf_rows,
    materialize_image,
)
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

CATEGORY_FIELDS = ("medical_task", "body_system", "question_type")
REQUIRED = ("id", "question", "options", "label", *CATEGORY_FIELDS)
_SOURCE = "Hugging Face TsinghuaC3I/MedXpertQA (github.com/TsinghuaC3I/MedXpertQA)"


@BENCHMARKS.register("medxpertqa-text")
class MedXpertQAText(Benchmark):
    name = "medxpertqa-text"
    version = "1"
    modality = "text"
    source = f"{_SOURCE}, subset Text: Text/test.jsonl"
    license = "MIT"
    split = "Text test split (10 options)"
    splits = ("test", "dev")
    expected_count = 2450
    layout = """
medxpertqa-text/
  Text/test.jsonl    one JSON object per line: id, question, options {A..J}, label,
                     medical_task, body_system, question_type  (Text/dev.jsonl for --split dev)
  (test.jsonl directly in this folder is accepted too)
or a Hugging Face export of the Text config (parquet, e.g. Text/test/*.parquet, or
save_to_disk) with the same columns
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        samples = load_medxpertqa(self.root(data_dir), "Text", split, self.name)
        return self.check_count(samples, split)


@BENCHMARKS.register("medxpertqa-mm")
class MedXpertQAMM(Benchmark):
    name = "medxpertqa-mm"
    version = "1"
    modality = "multimodal"
    source = f"{_SOURCE}, subset MM: MM/test.jsonl + images.zip"
    license = "MIT"
    split = "MM test split (5 options, with images)"
    splits = ("test", "dev")
    expected_count = 2000
    layout = """
medxpertqa-mm/
  MM/test.jsonl      one JSON object per line: id, question, options {A..E}, label,
                     images [file names], medical_task, body_system, question_type
                     (MM/dev.jsonl for --split dev; test.jsonl directly here is accepted too)
  images/            the unpacked images.zip: images/<file name> for every listed image
or a Hugging Face export of the MM config (parquet or save_to_disk) whose images column holds
file names (resolved against images/) or embedded image bytes
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        samples = load_medxpertqa(self.root(data_dir), "MM", split, self.name)
        return self.check_count(samples, split)


def load_medxpertqa(root: Path, subset: str, split: str, benchmark: str) -> list[Sample]:
    """Samples of one MedXpertQA subset ("Text" or "MM") from the release or an export."""
    release = next(
        (p for p in (root / subset / f"{split}.jsonl", root / f"{split}.jsonl") if p.is_file()),
        None,
    )
    rows: Iterator[tuple[str, dict[str, Any]]]
    if release is not None:
        rows = ((f"{release}:{n}", r) for n, r in iter_jsonl(release))
    else:
        # A snapshot holding both configs keeps each in its own folder (MM/, Text/).
        sub = root / subset
        export = find_hf_export(sub) if sub.is_dir() else None
        export = export or find_hf_export(root)
        if export is None:
            raise DataError(
                f"{root}: neither {subset}/{split}.jsonl nor a Hugging Face export found; "
                f"expected {root}/{subset}/{split}.jsonl from {_SOURCE}"
            )
        rows = (
            (f"{export}: {split} row {i}", r) for i, r in enumerate(load_hf_rows(export, split))
        )
    multimodal = subset == "MM"
    image_dir = _image_dir(root, subset) if multimodal else None
    samples: list[Sample] = []
    seen: dict[str, str] = {}
    for where, row in rows:
        sample = _sample(row, where, benchmark, root, image_dir, multimodal)
        if sample.id in seen:
            raise DataError(
                f"{where}: duplicate id {sample.id!r} (first at {seen[sample.id]}); "
                "remove the repeated row"
            )
        seen[sample.id] = where
        samples.append(sample)
    return samples


def _image_dir(root: Path, subset: str) -> Path | None:
    return next((d for d in (root / "images", root / subset / "images") if d.is_dir()), None)


def _sample(
    row: dict[str, Any],
    where: str,
    benchmark: str,
    root: Path,
    image_dir: Path | None,
    multimodal: bool,
) -> Sample:
    for field in REQUIRED:
        if row.get(field) is None:
            raise DataError(
                f"{where}: missing field {field!r}; expected fields {', '.join(REQUIRED)}"
                + (", images" if multimodal else "")
            )
    raw = row["options"]
    if not isinstance(raw, dict):
        raise DataError(f"{where}: 'options' should map letters to option texts")
    # Parquet stores options as a struct over all letters; absent ones come back as None.
    options = {str(k): str(v) for k, v in sorted(raw.items()) if v is not None}
    gold = str(row["label"]).strip()
    if gold not in options:
        raise DataError(
            f"{where}: label {row['label']!r} is not one of the option letters {', '.join(options)}"
        )
    images = row.get("images") or []
    if multimodal and not images:
        raise DataError(
            f"{where}: no images listed; MedXpertQA-MM rows carry an 'images' list "
            "(is this the Text subset's file?)"
        )
    if not multimodal and images:
        raise DataError(f"{where}: row lists images; this is an MM subset file, not one of Text/")
    return Sample(
        id=str(row["id"]),
        benchmark=benchmark,
        task="mcq",
        question=str(row["question"]),
        answer=gold,
        options=options,
        images=tuple(_image_path(v, where, root, image_dir) for v in images),
        categories={f: str(row[f]) for f in CATEGORY_FIELDS},
    )


def _image_path(value: Any, where: str, root: Path, image_dir: Path | None) -> str:
    """A file name from the release resolves against images/; embedded bytes are cached."""
    if isinstance(value, str):
        if Path(value).is_absolute():
            return value
        if image_dir is None:
            raise DataError(
                f"{where}: image {value!r} is listed but {root}/images/ does not exist; "
                "unpack the release's images.zip there"
            )
        return str(image_dir / value)
    return materialize_image(value, where)
