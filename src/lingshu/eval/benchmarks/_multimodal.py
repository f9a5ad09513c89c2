"""Helpers shared by the image benchmark loaders (VQA-RAD, SLAKE, PathVQA, PMC-VQA,
OmniMedVQA, MMMU-Med): image references -> absolute paths that exist, answer-type labels,
id uniqueness, and refusing pickled releases.

Loaders only check that each referenced image *file exists*: opening every image up front
would make loading slow, and a corrupt image is a per-sample problem that generation
records (``SampleError``) instead of stopping the whole benchmark.

An image reference that leads outside its folder ("../../home/me/.ssh/id_rsa", an absolute
path elsewhere) is not even looked at: ``image_file`` returns it unchecked and
``Benchmark.check_count`` refuses the sample (``Sample.refused``), so it is never read nor
sent to a backend. A reference inside the folder is refused too when it leads, through
any symbolic link on its way (the image file itself, an image folder, a link nested inside
a folder, a chain of links), outside the benchmark folder, its declared image roots and the
image cache, all compared resolved: a release could otherwise ship
``imgs -> /home/me/.ssh`` or ``imgs/x.png -> ~/.ssh/id_rsa`` (issue 22). Links that stay
inside the folder are followed, and a benchmark folder that is itself a link is fine (the
user named it; both sides are resolved). Images kept elsewhere are copied in, or the whole
benchmark folder is linked, or (custom benchmarks) declared as ``image_root``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import (
    find_hf_export,
    load_hf_rows,
    materialize_image,
    require,
)
from lingshu.eval.types import AnswerType, Sample

YES_NO = frozenset({"yes", "no"})


def lexical_path(path: Path | str) -> Path:
    """Absolute and normalised ("a/../b" -> "b") without touching the file system."""
    return Path(os.path.normpath(os.path.abspath(path)))


def is_within(path: Path | str, folder: Path | str) -> bool:
    return lexical_path(path).is_relative_to(lexical_path(folder))


def image_file(root: Path, ref: str, where: str) -> str:
    """Absolute path of the image ``ref`` (relative to ``root`` unless absolute).

    A missing file raises naming the row (``where``) and the path that was looked for. A
    reference leading outside ``root`` is returned unchecked (never stat-ed) for
    ``Benchmark.check_count`` to refuse.
    """
    path = Path(ref)
    if not path.is_absolute():
        path = Path(root) / path
    path = lexical_path(path)
    if not is_within(path, root):
        return str(path)
    if not path.is_file():
        raise DataError(
            f"{where}: image file not found: {path}; copy the release's image folder "
            "completely (unzipped) next to the question file"
        )
    return str(path)


def hf_image(cell: Any, root: Path, where: str) -> str:
    """Absolute path for an image cell of a Hugging Face export (embedded bytes are written
    once to the image cache, ``_common.image_cache_dir()``; a path-only cell is resolved
    against ``root``)."""
    if cell is None:
        raise DataError(f"{where}: image cell is empty; expected image bytes or a file path")
    ref = materialize_image(cell, where)
    if isinstance(cell, dict) and cell.get("bytes"):
        return ref  # written by us to the image cache
    return image_file(Path(root).absolute(), ref, where)


def refusal(sample: Sample, roots: list[Path]) -> str | None:
    """Why ``sample`` must not be sent: an image outside the benchmark folder ``roots[0]``
    (and any other declared image root) and outside the image cache; None when all its
    images are inside."""
    from lingshu.eval.benchmarks._common import image_cache_dir

    allowed = [*roots, image_cache_dir()]
    real_allowed = [Path(os.path.realpath(folder)) for folder in allowed]
    for image in sample.images:
        if not any(is_within(image, folder) for folder in allowed):
            return (
                f"image {image} resolves outside the benchmark folder "
                f"{lexical_path(roots[0])}; refused (never read, never sent); fix the image "
                "path in the benchmark file"
            )
        target = os.path.realpath(image)  # where every link on the way leads
        if not any(Path(target).is_relative_to(folder) for folder in real_allowed):
            return (
                f"image {image} leads through a symbolic link to {target}, outside the "
                f"benchmark folder {lexical_path(roots[0])}; refused (never read, never "
                "sent); copy the images into the benchmark folder (or link the whole "
                "benchmark folder) instead of linking inside it"
            )
    return None


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


def hf_vqa_samples(
    benchmark: str, root: Path, rows: list[dict], split: str, *, label: str, id_prefix: str = ""
) -> list[Sample]:
    """Rows of a Hugging Face VQA export with columns image, question, answer (PathVQA's
    flaviagiammarino/path-vqa and VQA-RAD's flaviagiammarino/vqa-rad share this layout)
    as samples with ids ``<id_prefix><split>-<row>``; ``label`` names the source in errors.

    Neither export has an answer-type label: ``answer_type`` ("closed" iff the gold is
    yes/no) is derived from the gold answer, so it is kept as a breakdown key only and
    never reaches a prompt (no label leakage in ``strict``).
    """
    samples: list[Sample] = []
    for i, row in enumerate(rows):
        where = f"{root} ({label}split {split}): row {i}"
        require(row, ("image", "question", "answer"), where)
        answer = text(row["answer"])
        samples.append(
            Sample(
                id=f"{id_prefix}{split}-{i}",
                benchmark=benchmark,
                task="vqa",
                question=text(row["question"]),
                answer=answer,
                images=(hf_image(row["image"], root, where),),
                answer_type=None,
                categories={"answer_type": yes_no_answer_type(answer)},
            )
        )
    return samples
