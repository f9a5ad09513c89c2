"""Medbullets (Chen et al., 2024, "Benchmarking LLMs on answering and explaining challenging
medical questions"): 308 USMLE Step 2/3 style questions from Medbullets, in two variants.

Source: github.com/HanjieChen/ChallengeClinicalQA, folder ``medbullets/``:
``medbullets_op4.csv`` (options A-D) and ``medbullets_op5.csv`` (the same questions with a
fifth option; the gold letter sometimes differs), each also as a pandas column-oriented
``.json``. Columns: link, question, opa..opd(/ope), answer_idx (gold letter), answer,
explanation. Hugging Face copies: ``tuenguyen/Medical-Eval-MedBullets_op4`` (an ``options``
mapping) and ``LangAGI-Lab/medbullets_op5`` (``opa``..``ope`` columns), one split each.
The whole file is the evaluation set.

The release has no ids: sample ids are the 0-based row position (``"0"``, ``"1"``, ...).
The op4 and op5 files order their rows differently, so ids are per variant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import find_hf_export, iter_csv, load_hf_rows, read_json
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

_OPTION_FIELDS = ("opa", "opb", "opc", "opd", "ope")
_LETTERS = "ABCDE"
_SOURCE = "github.com/HanjieChen/ChallengeClinicalQA (folder medbullets/)"
_LICENSE = (
    "no license stated in the release (questions from Medbullets, shared for research); "
    "check before redistributing"
)


def _layout(n: int) -> str:
    letters = _LETTERS[:n]
    fields = ",".join(_OPTION_FIELDS[:n])
    return f"""
medbullets-op{n}/
  medbullets_op{n}.csv    header link,question,{fields},answer_idx,answer,explanation
                        (answer_idx is the gold letter {letters[0]}-{letters[-1]})
  or medbullets_op{n}.json (the release's pandas column-oriented JSON)
  (either may sit in a medbullets/ subfolder, as in the GitHub repository)
or a Hugging Face export (parquet or save_to_disk) with columns question, answer_idx and
either options {{{letters[0]}..{letters[-1]}}} or {fields}
"""


@BENCHMARKS.register("medbullets-op4")
class MedbulletsOp4(Benchmark):
    name = "medbullets-op4"
    version = "1"
    modality = "text"
    source = f"{_SOURCE}: medbullets_op4.csv; Hugging Face tuenguyen/Medical-Eval-MedBullets_op4"
    license = _LICENSE
    split = "whole 4-option file"
    splits = ("test",)
    expected_count = 308
    layout = _layout(4)

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        samples = load_medbullets(self.root(data_dir), n_options=4, benchmark=self.name)
        return self.check_count(samples, split)


@BENCHMARKS.register("medbullets-op5")
class MedbulletsOp5(Benchmark):
    name = "medbullets-op5"
    version = "1"
    modality = "text"
    source = f"{_SOURCE}: medbullets_op5.csv; Hugging Face LangAGI-Lab/medbullets_op5"
    license = _LICENSE
    split = "whole 5-option file"
    splits = ("test",)
    expected_count = 308
    layout = _layout(5)

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        samples = load_medbullets(self.root(data_dir), n_options=5, benchmark=self.name)
        return self.check_count(samples, split)


def load_medbullets(root: Path, n_options: int, benchmark: str) -> list[Sample]:
    """Samples of one Medbullets variant from the release CSV/JSON or a Hugging Face export."""
    stem = f"medbullets_op{n_options}"
    folders = (root, root / "medbullets")
    rows: Iterator[tuple[str, dict[str, Any]]]
    if csv_path := _first_file(folders, f"{stem}.csv"):
        rows = _csv_rows(csv_path)
    elif json_path := _first_file(folders, f"{stem}.json"):
        rows = _column_oriented_rows(json_path)
    elif (export := find_hf_export(root)) is not None:
        rows = ((f"{export}: row {i}", r) for i, r in enumerate(load_hf_rows(export)))
    else:
        raise DataError(
            f"{root}: neither {stem}.csv, {stem}.json nor a Hugging Face export found; "
            f"expected {root}/{stem}.csv from {_SOURCE}"
        )
    return [_sample(i, row, where, n_options, benchmark) for i, (where, row) in enumerate(rows)]


def _first_file(folders: tuple[Path, ...], name: str) -> Path | None:
    return next((d / name for d in folders if (d / name).is_file()), None)


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for rowno, row in iter_csv(path, header=True):
        yield f"{path}: row {rowno}", cast(dict[str, Any], row)


def _column_oriented_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The release's ``.json`` is ``DataFrame.to_json()``: ``{column: {row_key: value}}``."""
    data = read_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DataError(
            f"{path}: expected pandas column-oriented JSON {{column: {{row: value}}}}, as the "
            "Medbullets release ships it"
        )
    keys = sorted({k for column in data.values() for k in column}, key=_row_order)
    for key in keys:
        yield f"{path}: row {key}", {col: values.get(key) for col, values in data.items()}


def _row_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)


def _options(row: dict[str, Any], n_options: int, where: str) -> dict[str, str]:
    letters = _LETTERS[:n_options]
    raw = row.get("options")
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise DataError(f"{where}: 'options' is not valid JSON") from None
    if isinstance(raw, dict):
        options = {str(k): str(v) for k, v in sorted(raw.items()) if v not in (None, "")}
    elif isinstance(raw, list):
        options = {_LETTERS[i]: str(v) for i, v in enumerate(raw[: len(_LETTERS)])}
    else:
        options = {
            letter: str(row[field])
            for letter, field in zip(_LETTERS, _OPTION_FIELDS, strict=True)
            if row.get(field) not in (None, "")
        }
    if "".join(options) != letters:
        raise DataError(
            f"{where}: options {sorted(options)} are not exactly {letters[0]}-{letters[-1]}; "
            f"expected the {n_options}-option file (medbullets_op{n_options})"
        )
    return options


def _sample(index: int, row: dict[str, Any], where: str, n_options: int, benchmark: str) -> Sample:
    for field in ("question", "answer_idx"):
        if row.get(field) in (None, ""):
            raise DataError(
                f"{where}: missing field {field!r}; expected question, "
                f"{', '.join(_OPTION_FIELDS[:n_options])}, answer_idx"
            )
    options = _options(row, n_options, where)
    gold = str(row["answer_idx"]).strip().upper()
    if gold not in options:
        raise DataError(
            f"{where}: answer_idx {row['answer_idx']!r} is not one of the option letters "
            f"{', '.join(options)}"
        )
    return Sample(
        id=str(index),
        benchmark=benchmark,
        task="mcq",
        question=str(row["question"]),
        answer=gold,
        options=options,
    )
