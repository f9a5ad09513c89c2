"""A user's own test set, described by a YAML file: ``-b custom:PATH.yaml``.

Why: a team with its own images and questions in a spreadsheet should not have to write a
benchmark module to evaluate a model on them (lmms-eval and VLMEvalKit take such files from
configuration too). The YAML names the file, its columns, the question type and the split;
prompts and scoring come from the chosen profile, as for every built-in benchmark.

```yaml
name: chest-xray-qa          # results are reported under this name
file: questions.csv          # .csv, .tsv, .jsonl or .parquet, relative to this YAML
question_type: yes-no        # multiple-choice | yes-no | closed | open
split: test                  # what this file is; --split must name it (default test)
columns:
  question: question
  answer: answer             # a letter or the option's text for multiple-choice
  options: [A, B, C, D]      # multiple-choice: option columns (letters A, B, ... in order),
                             # or one column holding a JSON list / mapping of options
  image: image_path          # optional: a path (relative to image_root) or embedded bytes
  id: qid                    # optional: stable ids (default: row-N)
  category: [modality, organ]  # optional: breakdown columns
  question_type: kind        # optional: a per-row type column instead of question_type
image_root: images           # optional, relative to this YAML (default: its folder)
```

Every problem is one line naming the file, the row and the column. The benchmark's version
is a hash of the YAML and the data file, so a changed file never reuses cached answers.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from lingshu.core.config import StrictModel, read_yaml, validate
from lingshu.core.errors import DataError, UserError
from lingshu.eval.benchmarks._common import _not_utf8, iter_jsonl, materialize_image
from lingshu.eval.benchmarks._multimodal import check_unique_ids, image_file, text
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.scoring.verdicts import gold_yes_no
from lingshu.eval.types import Sample

PREFIX = "custom:"
QuestionType = Literal["multiple-choice", "yes-no", "closed", "open"]
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ANSWER_TYPE = {"multiple-choice": None, "yes-no": "closed", "closed": "closed", "open": "open"}
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.*)$")


class Columns(StrictModel):
    question: str = Field(description="column holding the question text")
    answer: str = Field(description="column holding the gold answer")
    options: list[str] | str | None = Field(
        None, description="option columns (A, B, ... in order) or one column with all options"
    )
    image: str | None = Field(None, description="image path or embedded image column")
    id: str | None = Field(None, description="stable sample id column (default: row-N)")
    category: list[str] | str | None = Field(None, description="breakdown column(s)")
    question_type: str | None = Field(None, description="per-row question type column")
    context: str | None = Field(None, description="text shown before a multiple-choice question")


class CustomSpec(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="benchmark name in results")
    file: str = Field(description="the data file, relative to the YAML")
    format: Literal["csv", "tsv", "jsonl", "parquet"] | None = Field(
        None, description="default: from the file extension"
    )
    question_type: QuestionType | None = Field(None, description="the type of every question")
    split: str = Field("test", description="the split this file holds")
    columns: Columns
    image_root: str | None = Field(None, description="folder image paths are relative to")
    description: str = Field("", description="free text shown by `lingshu benchmarks info`")

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, v: str) -> str:
        if v in BENCHMARKS.names():
            raise ValueError(f"{v!r} is a built-in benchmark's name; choose another")
        return v


def load_custom(path: str | Path) -> CustomBenchmark:
    """The benchmark a ``custom:PATH.yaml`` name refers to."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise UserError(f"custom:{path}: expected a .yaml file describing the test set")
    spec = validate(CustomSpec, read_yaml(path, what="custom benchmark file"), where=str(path))
    if spec.question_type is None and spec.columns.question_type is None:
        raise UserError(
            f"{path}: question_type: required key is missing (or name a per-row column "
            "as columns.question_type); one of multiple-choice, yes-no, closed, open"
        )
    return CustomBenchmark(path, spec)


class CustomBenchmark(Benchmark):
    """A test set described by a YAML file (see the module docstring)."""

    source = "a local file named by a custom benchmark YAML"
    license = "the file owner's"
    layout = "the files the YAML names (see docs/adding-a-benchmark.md, 'From a file')"

    def __init__(self, yaml_path: Path, spec: CustomSpec) -> None:
        self.yaml_path = Path(yaml_path)
        self.spec = spec
        self.name = spec.name
        self.splits = (spec.split,)
        self.split = f"{spec.split} (from {self.yaml_path})"
        self.modality = "multimodal" if spec.columns.image else "text"
        base = self.yaml_path.parent
        self.data_path = base / spec.file
        self.image_root = (base / spec.image_root) if spec.image_root else base
        self.format = spec.format or FORMATS.get(self.data_path.suffix.lower())
        if self.format is None:
            raise UserError(
                f"{self.yaml_path}: file: cannot tell the format of {spec.file!r}; name a "
                ".csv, .tsv, .jsonl or .parquet file, or set format:"
            )
        if not self.data_path.is_file():
            raise DataError(f"{self.yaml_path}: file: {self.data_path} not found; check the path")
        digest = hashlib.sha256(self.yaml_path.read_bytes())
        digest.update(self.data_path.read_bytes())
        self.version = "custom-" + digest.hexdigest()[:12]

    def description(self) -> str:  # type: ignore[override]
        return self.spec.description or f"Custom benchmark from {self.yaml_path}."

    def data_root(self, data_dir: Path) -> Path:
        """The folder the run manifest hashes: the YAML's, not ``data_dir/<name>``."""
        return self.yaml_path.parent

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        """``data_dir`` is not used: the YAML names its file."""
        self.resolve_split(split)
        self._image_roots = [self.yaml_path.parent.absolute(), self.image_root.absolute()]
        rows = list(self.rows())
        if not rows:
            raise DataError(f"{self.data_path}: no rows")
        self._check_columns([k for k in dict.fromkeys(k for _, r in rows for k in r)])
        samples = [self._sample(where, row) for where, row in rows]
        check_unique_ids(samples, str(self.data_path))
        return self.check_count(samples, split)

    # ---- reading ------------------------------------------------------------------------

    def rows(self) -> list[tuple[str, dict[str, Any]]]:
        """``(where, row)`` per data row; ``where`` is "FILE: row N" (N as a person counts:
        the line in a CSV/TSV/JSONL file, 1-based in a parquet file)."""
        f = self.data_path
        if self.format in ("csv", "tsv"):
            return [(f"{f}: row {i}", dict(r)) for i, r in self._iter_delimited()]
        if self.format == "jsonl":
            return [(f"{f}: row {i}", r) for i, r in iter_jsonl(f)]
        return [(f"{f}: row {i}", r) for i, r in enumerate(self._parquet_rows(), start=1)]

    def _iter_delimited(self) -> list[tuple[int, dict]]:
        """Rows numbered as a spreadsheet shows them (the header is row 1). ``utf-8-sig``:
        spreadsheets save UTF-8 CSV with a byte-order mark, which would otherwise become
        part of the first column's name."""
        delimiter = "," if self.format == "csv" else "\t"
        try:
            with self.data_path.open(encoding="utf-8-sig", newline="") as fh:
                return list(enumerate(csv.DictReader(fh, delimiter=delimiter), start=2))
        except UnicodeDecodeError:
            raise _not_utf8(self.data_path, "row") from None

    def _parquet_rows(self) -> list[dict]:
        import pyarrow.parquet as pq

        try:
            return pq.read_table(str(self.data_path)).to_pylist()
        except Exception as e:  # noqa: BLE001 (pyarrow raises many kinds)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(f"{self.data_path}: not a readable parquet file ({first})") from None

    def declared_columns(self) -> dict[str, str]:
        """YAML key -> file column, for every column the YAML names."""
        c = self.spec.columns
        out = {"columns.question": c.question, "columns.answer": c.answer}
        for key in ("image", "id", "question_type", "context"):
            if getattr(c, key):
                out[f"columns.{key}"] = getattr(c, key)
        for key in ("options", "category"):
            value = getattr(c, key)
            for i, col in enumerate([value] if isinstance(value, str) else value or []):
                out[f"columns.{key}" + ("" if isinstance(value, str) else f".{i}")] = col
        return out

    def _check_columns(self, have_columns: list[str]) -> None:
        """Every column the YAML names is in the file (in some row, for JSON Lines)."""
        for key, col in self.declared_columns().items():
            if col not in have_columns:
                have = ", ".join(map(str, have_columns)) or "none"
                raise DataError(
                    f"{self.data_path}: column {col!r} ({key} in {self.yaml_path.name}) not "
                    f"found; the file's columns are: {have}"
                )

    # ---- one row ------------------------------------------------------------------------

    def _sample(self, where: str, row: dict[str, Any]) -> Sample:
        c = self.spec.columns
        qtype = self._question_type(where, row)
        question = _cell(row, c.question, where, required=True)
        answer = _cell(row, c.answer, where, required=True)
        options: dict[str, str] = {}
        if qtype == "multiple-choice":
            options = self._options(where, row)
            answer = _mcq_answer(answer, options, where, c.answer)
        elif qtype == "yes-no" and gold_yes_no(answer) is None:
            raise DataError(
                f"{where}: column {c.answer!r}: {answer!r} is not yes or no (是 / 否); a "
                "yes-no question's answer must be one, or use question_type closed"
            )
        sample_id = _cell(row, c.id, where, required=True) if c.id else where.rsplit(" ", 1)[1]
        categories = {"question_type": qtype}
        for col in [c.category] if isinstance(c.category, str) else c.category or []:
            value = _cell(row, col, where)
            if value:
                categories[col] = value
        return Sample(
            id=sample_id if c.id else f"row-{sample_id}",
            benchmark=self.name,
            task="mcq" if qtype == "multiple-choice" else "vqa",
            question=question,
            answer=answer,
            options=options,
            images=(self._image(where, row[c.image]),) if c.image else (),
            context=_cell(row, c.context, where) or None if c.context else None,
            answer_type=_ANSWER_TYPE[qtype],
            categories=categories,
        )

    def _question_type(self, where: str, row: dict[str, Any]) -> str:
        col = self.spec.columns.question_type
        if col is None:
            return str(self.spec.question_type)
        value = _cell(row, col, where, required=True).lower().replace("_", "-").replace(" ", "-")
        value = {"mcq": "multiple-choice", "yesno": "yes-no"}.get(value, value)
        if value not in QuestionType.__args__:  # type: ignore[attr-defined]
            raise DataError(
                f"{where}: column {col!r}: {value!r} is not a question type; expected "
                "multiple-choice, yes-no, closed or open"
            )
        return value

    def _options(self, where: str, row: dict[str, Any]) -> dict[str, str]:
        spec = self.spec.columns.options
        if spec is None:
            raise DataError(
                f"{self.yaml_path}: columns.options: required for multiple-choice questions "
                "(option columns, or one column holding the options)"
            )
        if isinstance(spec, list):
            cells = [(col, _cell(row, col, where)) for col in spec]
            options = {_LETTERS[i]: v for i, (_, v) in enumerate(cells) if v}
        else:
            options = _parse_options(row.get(spec), where, spec)
        if len(options) < 2:
            col = spec if isinstance(spec, str) else ", ".join(spec)
            raise DataError(f"{where}: column {col!r}: fewer than two options")
        return options

    def _image(self, where: str, cell: Any) -> str:
        col = self.spec.columns.image
        where = f"{where}: column {col!r}"
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            raise DataError(f"{where}: no image; give a path or the image bytes")
        if isinstance(cell, (bytes, bytearray)):
            return materialize_image({"bytes": bytes(cell)}, where)
        if isinstance(cell, dict):
            if cell.get("bytes"):
                return materialize_image(cell, where)
            cell = cell.get("path") or ""
        ref = str(cell).strip()
        if ref.startswith("data:image/") or (len(ref) > 200 and "/" not in ref[:64]):
            return materialize_image({"bytes": _base64(ref, where)}, where)
        return image_file(self.image_root.absolute(), ref, where)

    # ---- what was read, for `lingshu benchmarks info` -----------------------------------

    def summary(self) -> list[str]:
        samples = self.load(Path("."), None)
        kinds = Counter(s.categories["question_type"] for s in samples)
        lines = [
            f"file:     {self.data_path} ({self.format}, {len(samples)} rows)",
            "columns:  " + ", ".join(f"{k}={v}" for k, v in self.declared_columns().items()),
            "types:    " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
        ]
        images = sum(1 for s in samples if s.images)
        lines.append(f"images:   {images} of {len(samples)} rows")
        cats = {k for s in samples for k in s.categories if k != "question_type"}
        for key in sorted(cats):
            values = Counter(s.categories.get(key, "") for s in samples)
            common = ", ".join(f"{v} {n}" for v, n in values.most_common(8))
            lines.append(f"category {key}: {common}")
        first = samples[0]
        lines.append(
            f"first:    id={first.id} question={first.question[:60]!r} answer={first.answer!r}"
        )
        if first.options:
            lines.append("          options " + json.dumps(first.options, ensure_ascii=False)[:100])
        return lines


def _cell(row: dict[str, Any], col: str, where: str, *, required: bool = False) -> str:
    value = text(row.get(col)) if row.get(col) is not None else ""
    if required and not value:
        raise DataError(f"{where}: column {col!r} is empty")
    return value


def _parse_options(cell: Any, where: str, col: str) -> dict[str, str]:
    """One cell holding every option: a list, a mapping (letter -> text), JSON text of
    either, or lines "A. text" / "(B) text"."""
    if isinstance(cell, str):
        stripped = cell.strip()
        if stripped.startswith(("[", "{")):
            try:
                cell = json.loads(stripped)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{where}: column {col!r}: options are not valid JSON ({e.msg})"
                ) from None
        else:
            lines = [ln for ln in stripped.splitlines() if ln.strip()]
            found = [_OPTION_LINE.match(ln) for ln in lines]
            if lines and all(found):
                return {m.group(1): m.group(2).strip() for m in found if m}
            raise DataError(
                f"{where}: column {col!r}: options must be a JSON list or mapping, or one "
                "'A. text' line per option"
            )
    if isinstance(cell, list):
        return {_LETTERS[i]: text(v) for i, v in enumerate(cell) if text(v)}
    if isinstance(cell, dict):
        return {str(k).strip().upper(): text(v) for k, v in cell.items() if text(v)}
    raise DataError(f"{where}: column {col!r}: no options (got {type(cell).__name__})")


def _mcq_answer(answer: str, options: dict[str, str], where: str, col: str) -> str:
    """The gold letter: a letter ("B", "(b)", "B.") or exactly one option's text."""
    letter = answer.strip().strip("().").upper()
    if letter in options:
        return letter
    hits = [k for k, v in options.items() if v.strip().lower() == answer.strip().lower()]
    if len(hits) == 1:
        return hits[0]
    raise DataError(
        f"{where}: column {col!r}: {answer!r} is neither an option letter "
        f"({', '.join(options)}) nor one option's text"
    )


def _base64(ref: str, where: str) -> bytes:
    payload = ref.split(",", 1)[1] if ref.startswith("data:") else ref
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise DataError(f"{where}: neither an image path nor base64 image data") from None
