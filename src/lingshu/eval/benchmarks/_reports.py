"""The loader shared by the report-generation benchmarks (IU-Xray, MIMIC-CXR, CheXpert Plus).

Three layouts load from ``DIR/<name>/`` (the first one present wins):

1. **prepared** (``lingshu data prepare <name> --out DIR/<name>``): ``meta.json`` +
   ``<split>.jsonl``, one study per line with ``study_id``, ``images`` (relative to
   ``meta.json``'s ``image_root``, which is itself relative to the folder unless absolute),
   ``findings``, ``impression`` and optionally ``views`` and ``categories``.
2. **ReXrank** (github.com/rajpurkarlab/ReXrank, ``data/``): ``ReXRank_*.json``, a JSON object
   ``{study id: {image_path: [...], key_image_path, section_findings, section_impression,
   frontal_lateral: [...], ...}}`` (``NaN`` for an absent section), with the images under the
   folder ReXrank names (``files/`` for MIMIC-CXR, ``PNG/`` for CheXpert Plus, ``images/``
   for IU-Xray). The key (frontal) image comes first, then the others in file order.
3. **MedEvalKit** (its ``test.json``): a JSON list of ``{"image": [...] or "...",
   "findings": ..., "impression": ...}`` with the images under ``images/``; rows whose two
   sections are both empty are skipped, as MedEvalKit skips them.

Every layout gives the same ``Sample``: ``task="report"``, ``answer`` = MedEvalKit's
reference ``"Findings: {findings} Impression: {impression}."`` (each section with its
whitespace collapsed to single spaces, an absent one as ""), ``sections = {"findings",
"impression"}``, ``images`` frontal first, and ``categories["view"]`` = the views joined
by ``+`` (``PA+LATERAL``) when every image's view is known. Sample ids are the same in every
layout (MIMIC-CXR study id, CheXpert Plus ``patientN_studyM``, IU-Xray ``CXR<report
number>``), so caches carry over.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import iter_jsonl, read_json
from lingshu.eval.benchmarks._multimodal import is_within, lexical_path
from lingshu.eval.benchmarks.base import Benchmark
from lingshu.eval.types import Sample

log = logging.getLogger(__name__)

REFERENCE_TEMPLATE = "Findings: {findings} Impression: {impression}."
"""MedEvalKit's reference report (its ``cal_metrics``), used for every lexical metric."""

META_FILE = "meta.json"
PREPARED_FORMAT = "lingshu-report-studies"
MEDEVALKIT_FILE = "test.json"
MEDEVALKIT_IMAGES = "images"

class ReportBenchmark(Benchmark):
    """A report-generation benchmark: its answers are whole reports, so they get room."""

    max_new_tokens = 512
    """Reports need more than the short-answer 256: on the 3,419 IU-Xray reports with both
    sections (bundled corpus, ``metrics.reports.corpus``), the reference text
    "Findings: ... Impression: ..." is 61 tokens at the median, 170 at the 99th percentile
    and 312 at the longest (SmolLM2's tokenizer, measured for issue 21), so 256 would end 3
    reference-length reports mid-sentence. 512 holds the longest with room for a model that
    writes a little more."""


# ReXrank's words for views -> the DICOM ViewPosition codes MIMIC-CXR uses.
_VIEW_CODES = {
    "postero-anterior": "PA",
    "antero-posterior": "AP",
    "lateral": "LATERAL",
    "left lateral": "LL",
    "frontal": "FRONTAL",
}


@dataclass(frozen=True)
class ReportLayout:
    """What differs between the three report benchmarks when loading."""

    rexrank_files: dict[str, str]  # our split name -> ReXrank file name
    rexrank_image_dirs: tuple[str, ...]  # where ReXrank's image paths are rooted
    study_id: Callable[[str], str | None]  # an id (or image path) -> our sample id


def reference_report(findings: str, impression: str) -> str:
    """``"Findings: {findings} Impression: {impression}."`` exactly as MedEvalKit writes it."""
    return REFERENCE_TEMPLATE.format(findings=findings, impression=impression)


def load_report_samples(
    bench: Benchmark, root: Path, split: str, layout: ReportLayout
) -> list[Sample]:
    """The samples of ``split`` from whichever layout ``root`` holds (module docstring)."""
    prepared = root / f"{split}.jsonl"
    rexrank = root / layout.rexrank_files[split] if split in layout.rexrank_files else None
    medevalkit = root / MEDEVALKIT_FILE
    if prepared.is_file():
        samples = _load_prepared(bench, root, prepared)
    elif rexrank is not None and rexrank.is_file():
        samples = _load_rexrank(bench, root, rexrank, layout)
    elif split == "test" and medevalkit.is_file():
        samples = _load_medevalkit(bench, root, medevalkit, layout)
    else:
        raise DataError(
            f"{root}: no {prepared.name}"
            + (f", no {rexrank.name}" if rexrank is not None else "")
            + (f" and no {MEDEVALKIT_FILE}" if split == "test" else "")
            + f" for split {split!r}; build it with `lingshu data prepare {bench.name} ... "
            f"--out {root}` (see `lingshu benchmarks info {bench.name}`)"
        )
    _check_unique(samples, root)
    return bench.check_count(samples, split)


# ---- the three layouts --------------------------------------------------------------------


def _load_prepared(bench: Benchmark, root: Path, path: Path) -> list[Sample]:
    meta_path = root / META_FILE
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        loaded = read_json(meta_path)
        if not isinstance(loaded, dict):
            raise DataError(
                f"{meta_path}: expected a JSON object written by `lingshu data prepare`"
            )
        meta = loaded
        if meta.get("format") not in (None, PREPARED_FORMAT):
            raise DataError(
                f"{meta_path}: format {meta.get('format')!r} is not {PREPARED_FORMAT!r}"
            )
        if meta.get("dataset") not in (None, bench.name):
            raise DataError(
                f"{meta_path}: prepared for {meta['dataset']!r}, not {bench.name!r}; move it "
                f"to DIR/{meta['dataset']}/"
            )
    image_root = Path(str(meta.get("image_root") or "."))
    if not image_root.is_absolute():
        image_root = root / image_root
    # `lingshu data prepare` leaves credentialed images where they are and names their
    # folder here; images inside it are allowed, images leading out of it are refused.
    bench.allow_images_under(image_root)
    samples: list[Sample] = []
    for lineno, rec in iter_jsonl(path):
        where = f"{path}:{lineno}"
        for name in ("study_id", "images", "findings", "impression"):
            if name not in rec:
                raise DataError(f"{where}: missing field {name!r}; rerun `lingshu data prepare`")
        images = rec["images"]
        if not isinstance(images, list) or not images:
            raise DataError(f"{where}: 'images' must be a non-empty list of image paths")
        paths = [_image(image_root, str(p), where, hint=_PREPARED_HINT) for p in images]
        samples.append(
            _sample(
                bench,
                str(rec["study_id"]),
                _text(rec["findings"]),
                _text(rec["impression"]),
                paths,
                [_text(v) for v in rec.get("views") or []],
                rec.get("categories") or {},
            )
        )
    return samples


def _load_rexrank(bench: Benchmark, root: Path, path: Path, layout: ReportLayout) -> list[Sample]:
    data = read_json(path)  # json accepts ReXrank's NaN for absent sections
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected ReXrank's JSON object {{study id: {{...}}}}")
    samples: list[Sample] = []
    skipped = 0
    for key, entry in data.items():
        where = f"{path}: {key}"
        if not isinstance(entry, dict) or not isinstance(entry.get("image_path"), list):
            raise DataError(f"{where}: expected an object with an 'image_path' list")
        findings, impression = (
            _text(entry.get("section_findings")),
            _text(entry.get("section_impression")),
        )
        if not findings and not impression:
            skipped += 1
            continue
        refs = [str(p) for p in entry["image_path"]]
        views = [
            _VIEW_CODES.get(_text(v).lower(), _text(v).upper())
            for v in entry.get("frontal_lateral") or []
        ]
        if len(views) != len(refs):
            views = []
        order = list(range(len(refs)))
        key_image = entry.get("key_image_path")
        if key_image in refs:  # the frontal image first, the others in file order
            first = refs.index(key_image)
            order = [first] + [i for i in order if i != first]
        paths = [_rexrank_image(root, refs[i], layout, where) for i in order]
        samples.append(
            _sample(
                bench,
                layout.study_id(str(key)) or str(key),
                findings,
                impression,
                paths,
                [views[i] for i in order] if views else [],
                {},
            )
        )
    if skipped:
        log.info("%s: skipped %d studies with neither findings nor impression", path, skipped)
    return samples


def _load_medevalkit(
    bench: Benchmark, root: Path, path: Path, layout: ReportLayout
) -> list[Sample]:
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(
            f"{path}: expected MedEvalKit's JSON list of {{image, findings, impression}}"
        )
    image_dir = root / MEDEVALKIT_IMAGES
    rows: list[tuple[int, str, str, list[str]]] = []
    for i, row in enumerate(data):
        where = f"{path}: row {i}"
        if not isinstance(row, dict) or "image" not in row:
            raise DataError(f"{where}: expected an object with 'image', 'findings', 'impression'")
        findings, impression = _text(row.get("findings")), _text(row.get("impression"))
        if not findings and not impression:
            continue  # MedEvalKit skips these rows too
        refs = row["image"] if isinstance(row["image"], list) else [row["image"]]
        paths = [_image(image_dir, str(r), where, hint=_MEDEVALKIT_HINT) for r in refs]
        rows.append((i, findings, impression, paths))
    ids = [layout.study_id(Path(r[3][0]).as_posix()) for r in rows]
    if None in ids or len(set(ids)) != len(ids):
        ids = [f"row-{r[0]}" for r in rows]  # test.json has no ids of its own
    return [
        _sample(bench, sid, f, imp, paths, [], {})  # type: ignore[arg-type]
        for sid, (_, f, imp, paths) in zip(ids, rows, strict=True)
    ]


# ---- helpers ------------------------------------------------------------------------------

_PREPARED_HINT = (
    "the images moved since `lingshu data prepare` ran: rerun it, or fix image_root in meta.json"
)
_MEDEVALKIT_HINT = "put the release's images under images/ next to test.json"


def _sample(
    bench: Benchmark,
    sample_id: str,
    findings: str,
    impression: str,
    images: list[str],
    views: list[str],
    extra_categories: dict[str, Any],
) -> Sample:
    categories = {str(k): str(v) for k, v in extra_categories.items()}
    if views and len(views) == len(images) and all(views):
        categories["view"] = "+".join(views)
    return Sample(
        id=sample_id,
        benchmark=bench.name,
        task="report",
        question="",
        answer=reference_report(findings, impression),
        images=tuple(images),
        sections={"findings": findings, "impression": impression},
        categories=categories,
    )


def _text(value: Any) -> str:
    """Section text; ``None`` and NaN (pandas' empty cell in ReXrank's JSON) are ""."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def _image(root: Path, ref: str, where: str, hint: str) -> str:
    p = Path(ref)
    p = lexical_path(p if p.is_absolute() else root / p)
    if not is_within(p, root):
        return str(p)  # refused per sample by check_count, never stat-ed
    if not p.is_file():
        raise DataError(f"{where}: image file not found: {p}; {hint}")
    return str(p)


def _rexrank_image(root: Path, ref: str, layout: ReportLayout, where: str) -> str:
    rel = ref.lstrip("/")
    for d in layout.rexrank_image_dirs:
        p = lexical_path((root / d / rel) if d else root / rel)
        if not is_within(p, root):
            return str(p)  # refused per sample by check_count, never stat-ed
        if p.is_file():
            return str(p.absolute())
    dirs = ", ".join(f"{d or '.'}/" for d in layout.rexrank_image_dirs)
    raise DataError(f"{where}: image {ref} not found under {root} ({dirs}); copy the images there")


def _check_unique(samples: list[Sample], where: Path) -> None:
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise DataError(f"{where}: study id {s.id!r} occurs more than once; ids must be unique")
        seen.add(s.id)


def first_match(pattern: str, fmt: Callable[[re.Match[str]], str]) -> Callable[[str], str | None]:
    """A ``study_id`` function: the first match of ``pattern`` formatted by ``fmt``."""
    rx = re.compile(pattern)

    def study_id(text: str) -> str | None:
        m = rx.search(text)
        return fmt(m) if m else None

    return study_id
