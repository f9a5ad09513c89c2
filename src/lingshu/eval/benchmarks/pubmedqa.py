"""PubMedQA (Jin et al., 2019): yes / no / maybe questions over a PubMed abstract.

Source: the PQA-L release of github.com/pubmedqa/pubmedqa (MIT): ``ori_pqal.json`` holds the
1,000 expert-labelled entries, ``test_ground_truth.json`` maps the 500 test PMIDs to their
labels. The paper's split is those 500 (``--split test``); ``--split all`` loads every entry
of ``ori_pqal.json`` and needs no ground-truth file. The Hugging Face ``qiaojin/PubMedQA``
``pqa_labeled`` export loads too (the test split still needs ``test_ground_truth.json``).

Each question is a three-way multiple choice (A. yes, B. no, C. maybe). The abstract becomes
``Sample.context``: its sections joined by newlines, each prefixed with the release's own
section label (``BACKGROUND: ...``, ``METHODS: ...``). We keep the labels because they are
part of the abstract as published and cost the model nothing to skip; MedEvalKit's copy
(openlifescienceai/pubmedqa) joins the bare section texts, so a prompt that must match it
byte for byte should drop the ``LABEL: `` prefixes. The conclusion (``LONG_ANSWER``) is never
shown: it states the answer.

The repository bundles ``data/benchmarks/pubmedqa/ori_pqal.json`` holding only the 500
entries that are *not* in the test split (see its PROVENANCE.md): ``--split all`` loads them;
``--split test`` needs the full release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import find_hf_export, load_hf_rows, read_json
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}
_LETTER = {text: letter for letter, text in OPTIONS.items()}
RELEASE_FILE = "ori_pqal.json"
GROUND_TRUTH_FILE = "test_ground_truth.json"


@BENCHMARKS.register("pubmedqa")
class PubMedQA(Benchmark):
    name = "pubmedqa"
    version = "1"
    modality = "text"
    source = (
        "PubMedQA PQA-L, github.com/pubmedqa/pubmedqa (data/ori_pqal.json, "
        "data/test_ground_truth.json), or Hugging Face qiaojin/PubMedQA (pqa_labeled)"
    )
    license = "MIT"
    split = "test split (the PMIDs of test_ground_truth.json)"
    splits = ("test", "all")
    expected_count = 500
    layout = """
pubmedqa/
  ori_pqal.json             {pmid: {QUESTION, CONTEXTS, LABELS, MESHES, LONG_ANSWER,
                             final_decision, ...}} (1,000 labelled entries)
  test_ground_truth.json    {pmid: "yes"|"no"|"maybe"}: the 500 test ids (needed for --split test)
  (both may also sit in a data/ subfolder, as in the GitHub repository)
or a Hugging Face export of qiaojin/PubMedQA pqa_labeled (parquet or save_to_disk; columns
pubid, question, context{contexts,labels,meshes}, long_answer, final_decision), with
test_ground_truth.json beside it for --split test
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        folders = (root, root / "data")
        release = next((d / RELEASE_FILE for d in folders if (d / RELEASE_FILE).is_file()), None)
        if release is not None:
            entries = _entries_from_release(release)
        elif (export := find_hf_export(root)) is not None:
            entries = _entries_from_hf(export)
        else:
            raise DataError(
                f"{root}: neither {RELEASE_FILE} nor a Hugging Face export found; expected "
                f"{root}/{RELEASE_FILE} from the PubMedQA release (github.com/pubmedqa/pubmedqa, "
                "data/ folder)"
            )
        if split == "all":
            samples = [_sample(pmid, entry, where) for pmid, (entry, where) in entries.items()]
            return self.check_count(samples, split)

        truth_path = next(
            (d / GROUND_TRUTH_FILE for d in folders if (d / GROUND_TRUTH_FILE).is_file()), None
        )
        if truth_path is None:
            raise DataError(
                f"{root}/{GROUND_TRUTH_FILE}: not found; the test split is the 500 PMIDs listed "
                "in that file of the PubMedQA release (data/test_ground_truth.json): put it next "
                f"to {RELEASE_FILE}, or use --split all"
            )
        truth = read_json(truth_path)
        if not isinstance(truth, dict):
            raise DataError(f"{truth_path}: expected a JSON object {{pmid: label}}")
        samples = []
        for pmid, label in truth.items():
            where = f"{truth_path}: pmid {pmid}"
            if label not in _LETTER:
                raise DataError(f"{where}: label {label!r} is not one of yes, no, maybe")
            if str(pmid) not in entries:
                raise DataError(
                    f"{where}: this test PMID is not among the {len(entries)} entries of the "
                    f"release; expected the complete {RELEASE_FILE} (1,000 entries)"
                )
            entry, entry_where = entries[str(pmid)]
            sample = _sample(str(pmid), entry, entry_where)
            if sample.answer != _LETTER[label]:
                raise DataError(
                    f"{where}: ground truth says {label!r} but {entry_where} says "
                    f"{entry.get('final_decision')!r}; the two files come from different releases"
                )
            samples.append(sample)
        return self.check_count(samples, split)


def _entries_from_release(path: Path) -> dict[str, tuple[dict[str, Any], str]]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(
            f"{path}: expected a JSON object {{pmid: entry}}, got {type(data).__name__}"
        )
    entries = {}
    for pmid, entry in data.items():
        where = f"{path}: pmid {pmid}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object with QUESTION, CONTEXTS, final_decision")
        entries[str(pmid)] = (entry, where)
    return entries


def _entries_from_hf(export: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """Rename the Hugging Face columns to the release's keys so one builder serves both."""
    labeled = export / "pqa_labeled"  # a snapshot of the whole repo also holds pqa_artificial
    rows = load_hf_rows(labeled if labeled.is_dir() else export)
    entries: dict[str, tuple[dict[str, Any], str]] = {}
    for i, row in enumerate(rows):
        where = f"{export}: row {i}"
        for field in ("pubid", "question", "context", "final_decision"):
            if row.get(field) is None:
                raise DataError(
                    f"{where}: missing field {field!r}; expected the qiaojin/PubMedQA "
                    "pqa_labeled columns pubid, question, context, long_answer, final_decision"
                )
        context = row["context"]
        if not isinstance(context, dict):
            raise DataError(f"{where}: field 'context' should hold contexts and labels lists")
        pmid = str(row["pubid"])
        if pmid in entries:
            raise DataError(f"{where}: duplicate pubid {pmid} (also at {entries[pmid][1]})")
        entry = {
            "QUESTION": row["question"],
            "CONTEXTS": context.get("contexts"),
            "LABELS": context.get("labels"),
            "final_decision": row["final_decision"],
        }
        entries[pmid] = (entry, where)
    return entries


def _sample(pmid: str, entry: dict[str, Any], where: str) -> Sample:
    for field in ("QUESTION", "CONTEXTS", "final_decision"):
        if entry.get(field) is None:
            raise DataError(
                f"{where}: missing field {field!r}; expected QUESTION, CONTEXTS, LABELS, "
                "final_decision as in the PubMedQA release"
            )
    decision = entry["final_decision"]
    if decision not in _LETTER:
        raise DataError(f"{where}: final_decision {decision!r} is not one of yes, no, maybe")
    return Sample(
        id=pmid,
        benchmark=PubMedQA.name,
        task="mcq",
        question=entry["QUESTION"],
        answer=_LETTER[decision],
        options=dict(OPTIONS),
        context=_context(entry["CONTEXTS"], entry.get("LABELS"), where),
    )


def _context(texts: list[str], labels: list[str] | None, where: str) -> str:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise DataError(f"{where}: CONTEXTS should be a list of strings")
    if not labels:
        return "\n".join(texts)
    if len(labels) != len(texts):
        raise DataError(
            f"{where}: {len(labels)} LABELS for {len(texts)} CONTEXTS; each section needs one label"
        )
    return "\n".join(f"{label}: {text}" for label, text in zip(labels, texts, strict=True))
