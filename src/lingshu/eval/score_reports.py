"""Score a predictions file against a gold file without running a model.

Both files are either CSV with ``study_id`` and ``report`` columns (the format of the
CXR-Report-Metric tools) or JSONL with ``{"study_id" | "id": ..., "report": ...}`` per line.
File-level problems (unreadable or non-UTF-8 bytes, missing columns, duplicate ids, an id
on one side only, an empty gold report) stop with one ``DataError`` line naming the file
and row. An empty *predicted* report is a per-sample problem: it is scored (it earns what
an empty report earns) and listed in ``problems``, never dropped silently.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from lingshu.eval.metrics.reports import ReportScores, bootstrap_report_ci, score_reports

ID_FIELDS = ("study_id", "id")


@dataclass
class ReportFile:
    path: Path
    reports: dict[str, str]  # id -> report, in file order
    rows: dict[str, int]  # id -> row / line number, for messages


@dataclass
class ScoredFiles:
    ids: list[str]
    scores: ReportScores
    ci: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.ids),
            "corpus": self.scores.corpus,
            "ci": {k: v.to_dict() for k, v in self.ci.items()},
            "unavailable": self.scores.unavailable,
            "problems": self.problems,
            "per_sample": [{"study_id": i, **s} for i, s in zip(self.ids, self.scores.per_sample, strict=True)],
        }


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); re-save the file as UTF-8"
        ) from None
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        out = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: not a JSON object ({e.msg}); expected one per line") from None
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object with study_id and report")
            out.append((lineno, rec))
        return out
    reader = csv.DictReader(text.splitlines(keepends=True))
    if reader.fieldnames is None:
        raise DataError(f"{path}: empty file; expected a CSV header with study_id,report")
    return [(i, dict(row)) for i, row in enumerate(reader, start=2)]


def read_reports(path: Path, *, role: str) -> ReportFile:
    """Read a predictions (``role='pred'``) or gold (``role='gold'``) file."""
    path = Path(path)
    reports: dict[str, str] = {}
    rows: dict[str, int] = {}
    for row, rec in _records(path):
        where = f"{path}:{row}"
        key = next((f for f in ID_FIELDS if rec.get(f) not in (None, "")), None)
        if key is None:
            raise DataError(f"{where}: missing 'study_id' (or 'id'); expected columns study_id and report")
        if "report" not in rec or rec["report"] is None:
            raise DataError(f"{where}: missing field 'report'; expected columns study_id and report")
        sid = str(rec[key]).strip()
        if sid in reports:
            raise DataError(f"{where}: duplicate study_id {sid!r} (first at row {rows[sid]}); keep one report per study")
        report = str(rec["report"])
        if role == "gold" and not report.strip():
            raise DataError(f"{where}: empty gold report for study_id {sid!r}; remove the study or fill it in")
        reports[sid] = report
        rows[sid] = row
    if not reports:
        raise DataError(f"{path}: no reports found")
    return ReportFile(path, reports, rows)


def pair_files(pred: ReportFile, gold: ReportFile) -> tuple[list[str], list[str], list[str], list[str]]:
    """(ids, predictions, references, per-sample problems) in gold order; ids present on
    one side only are an error naming the first few."""
    missing = [i for i in gold.reports if i not in pred.reports]
    extra = [i for i in pred.reports if i not in gold.reports]
    if missing:
        raise DataError(
            f"{pred.path}: no prediction for {len(missing)} gold studies (e.g. {missing[:3]}, gold rows "
            f"{[gold.rows[i] for i in missing[:3]]}); predict every study or subset the gold file"
        )
    if extra:
        raise DataError(
            f"{pred.path}:{pred.rows[extra[0]]}: {len(extra)} predicted studies are not in {gold.path} "
            f"(e.g. {extra[:3]}); check the study ids"
        )
    ids = list(gold.reports)
    problems = [
        f"{pred.path}:{pred.rows[i]}: empty predicted report for study_id {i!r} (scored as empty)"
        for i in ids
        if not pred.reports[i].strip()
    ]
    return ids, [pred.reports[i] for i in ids], [gold.reports[i] for i in ids], problems


def score_files(
    pred_path: Path,
    gold_path: Path,
    metrics: list[str] | None = None,
    config: Any = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> ScoredFiles:
    pred = read_reports(Path(pred_path), role="pred")
    gold = read_reports(Path(gold_path), role="gold")
    ids, preds, refs, problems = pair_files(pred, gold)
    scores = score_reports(preds, refs, metrics, config)
    ci = bootstrap_report_ci(scores, n_resamples=n_resamples, seed=seed)
    return ScoredFiles(ids, scores, ci, problems)
