"""Helpers shared by the image benchmark loaders (VQA-RAD, SLAKE, PathVQA, PMC-VQA,
OmniMedVQA, MMMU-Med): image references -> absolute paths that exist, answer-type labels,
id uniqueness, and refusing pickled releases.

Loaders only check that each referenced image *file exists*: opening every image up front
would make loading slow, and a corrupt image is a per-sample problem that generation
records (``SampleError``) instead of stopping the whole benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import find_hf_export, load_hf_rows, materialize_image
from lingshu.eval.types import AnswerType, Sample

YES_NO = frozenset({"yes", "no"})


def image_file(root: Path, ref: str, where: str) -> str:
    """Absolute path of the image ``ref`` (relative to ``root`` unless absolute).

    A missing file raises naming the row (``where``) and the path that was looked for.
    """
    path = Path(ref)
    if not path.is_absolute():
        path = Path(root) / path
    path = path.absolute()
    if not path.is_file():
        raise DataError(
            f"{where}: image file not found: {path}; copy the release's image folder "
            "completely (unzipped) next to the question file"
        )
    return str(path)


def hf_image(cell: Any, root: Path, where: str) -> str:
    """Absolute path for an image cell of a Hugging Face export (embedded bytes are written
    once under ``root/.lingshu_images/``; a path-only cell is resolved against ``root``)."""
    if cell is None:
        raise DataError(f"{where}: image cell is empty; expected image bytes or a file path")
    root = Path(root).absolute()  # so that written cache files come back absolute
    return image_file(root, materialize_image(cell, root, where), where)


def text(value: Any) -> str:
    """Answers and labels as stripped text: some releases store numbers (VQA-RAD ``4``)."""
    if value is None:
        return ""
    return str(value).strip()


def labelled_answer_type(value: Any, where: str) -> AnswerType:
    """The dataset's own CLOSED/OPEN label (case and stray spaces ignored: VQA-RAD has
    ``"CLOSED "``)."""
    label = text(value).lower()
    if label not in ("closed", "open"):
        raise DataError(f"{where}: answer_type is {value!r}; expected CLOSED or OPEN")
    return label  # type: ignore[return-value]


def yes_no_answer_type(answer: str) -> AnswerType:
    """``closed`` iff the gold answer is yes/no.

    Only for releases whose own documentation defines closed questions this way (the
    Hugging Face exports of VQA-RAD and PathVQA: "close-ended = the binary yes/no
    questions") and that carry no answer-type column.
    """
    return "closed" if answer.strip().lower() in YES_NO else "open"


def check_unique_ids(samples: Iterable[Sample], where: str) -> None:
    """Caches and resume key on sample ids: a duplicate would silently merge two samples."""
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise DataError(
                f"{where}: sample id {s.id!r} occurs more than once; ids must be unique "
                "(is a question file duplicated or concatenated twice?)"
            )
        seen.add(s.id)


def refuse_pickles(root: Path, advice: str) -> None:
    """Raise when ``root`` holds only pickled files: unpickling runs arbitrary code."""
    pickles = sorted(p for p in Path(root).rglob("*") if p.suffix in (".pkl", ".pickle"))
    if pickles:
        raise DataError(
            f"{pickles[0]}: this is a Python pickle, which lingshu never loads (unpickling "
            f"can run arbitrary code); {advice}"
        )


def hf_rows(root: Path, split: str) -> list[dict] | None:
    """Rows of ``split`` from a Hugging Face export under ``root``, or None if there is none."""
    export = find_hf_export(root)
    if export is None:
        return None
    return load_hf_rows(export, split)


def require_dir(path: Path, what: str) -> Path:
    """A folder the layout needs, with a hint when only its zip archive is present."""
    if path.is_dir():
        return path
    archive = path.with_suffix(".zip")
    hint = (
        f"; extract {archive.name} there first (e.g. `python -m zipfile -e "
        f"'{archive}' '{path.parent}'`)"
        if archive.exists()
        else ""
    )
    raise DataError(f"{path}: {what} folder not found{hint}")
