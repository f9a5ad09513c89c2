"""Text benchmark loaders (and MedXpertQA-MM, which shares MedXpertQA's release format).

Three kinds of evidence per loader: (a) the real files bundled under data/benchmarks/, with
expected values read off the files independently (csv/json modules) or by hand; (b) Hugging
Face export layouts (parquet, save_to_disk) built here with ``datasets`` in the published
column schemas; (c) bad input, where the error must name the file and the row or field.
Fixtures in the release layouts of the benchmarks without bundled data live in
tests/fixtures/benchmarks/<name>/ (invented questions, real file formats).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
from collections import Counter
from pathlib import Path

import datasets
import pytest
from PIL import Image

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks import BENCHMARKS, get_benchmark
from lingshu.eval.benchmarks._common import image_cache_dir
from lingshu.eval.types import Sample

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "benchmarks"
TEXT = (
    "mmlu-med",
    "pubmedqa",
    "medmcqa",
    "medqa-usmle",
    "medbullets-op4",
    "medbullets-op5",
    "medxpertqa-text",
    "supergpqa-med",
)


def load(name: str, data_dir: Path, split: str | None = None) -> list[Sample]:
    return get_benchmark(name).load(data_dir, split)


def copy_bundled(data_dir: Path, name: str, tmp_path: Path) -> Path:
    """A writable copy of data/benchmarks/<name> under tmp_path; returns the new data dir."""
    shutil.copytree(data_dir / name, tmp_path / name)
    return tmp_path


def at(path: Path) -> str:
    """A path as a regular expression that matches only itself (for ``match=``)."""
    return re.escape(str(path))


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def to_parquet(rows: list[dict], path: Path, features: datasets.Features | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))


# ---- registry and metadata ------------------------------------------------------------


@pytest.mark.parametrize("name", [*TEXT, "medxpertqa-mm"])
def test_registered_with_metadata(name: str) -> None:
    bench = get_benchmark(name)
    assert name in BENCHMARKS and bench.name == name
    assert bench.modality == ("multimodal" if name == "medxpertqa-mm" else "text")
    for attr in ("source", "license", "split", "layout"):
        assert isinstance(getattr(bench, attr), str) and getattr(bench, attr).strip()
    assert bench.splits and bench.resolve_split(None) == bench.splits[0]
    with pytest.raises(DataError, match="unknown split"):
        bench.resolve_split("no-such-split")


def test_expected_counts_are_the_papers() -> None:
    expected = {
        "mmlu-med": 1089,
        "pubmedqa": 500,
        "medmcqa": 4183,
        "medqa-usmle": 1273,
        "medbullets-op4": 308,
        "medbullets-op5": 308,
        "medxpertqa-text": 2450,
        "medxpertqa-mm": 2000,
        # SuperGPQA Medicine = its six fields: 1218 + 567 + 292 + 278 + 268 + 132.
        "supergpqa-med": 2755,
    }
    assert {n: get_benchmark(n).expected_count for n in expected} == expected


@pytest.mark.parametrize("name", [*TEXT, "medxpertqa-mm"])
def test_missing_directory_is_a_clear_error(name: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{at(tmp_path / name)}.*not found"):
        load(name, tmp_path)


@pytest.mark.parametrize("name", [*TEXT, "medxpertqa-mm"])
def test_empty_directory_names_the_expected_file(name: str, tmp_path: Path) -> None:
    (tmp_path / name).mkdir()
    with pytest.raises(DataError, match=str(tmp_path / name)):
        load(name, tmp_path)


# ---- MMLU-Med ---------------------------------------------------------------------------


def test_mmlu_bundled_val_split(data_dir: Path) -> None:
    samples = load("mmlu-med", data_dir, "val")
    # Counted with the csv module: college_biology_val.csv has 19 lines but 16 records
    # (multi-line questions), which a line count would get wrong.
    assert Counter(s.categories["subject"] for s in samples) == {
        "anatomy": 14,
        "clinical_knowledge": 29,
        "college_biology": 16,
        "college_medicine": 22,
        "medical_genetics": 11,
        "professional_medicine": 31,
    }
    first = samples[0]
    assert first.id == "anatomy-val-0" and first.task == "mcq"
    assert first.question.startswith("Which of the following terms describes the body's ability")
    assert first.options == {
        "A": "Anabolism",
        "B": "Catabolism",
        "C": "Tolerance",
        "D": "Homeostasis",
    }
    assert first.answer == "D"
    # Every sample against an independent read of its CSV row.
    for s in samples:
        subject, _, index = s.id.rsplit("-", 2)
        path = data_dir / "mmlu-med" / "val" / f"{subject}_val.csv"
        row = list(csv.reader(path.open(encoding="utf-8", newline="")))[int(index)]
        assert [s.question, *s.options.values(), s.answer] == row


def test_mmlu_bundled_dev_and_missing_test(data_dir: Path) -> None:
    assert len(load("mmlu-med", data_dir, "dev")) == 30
    with pytest.raises(DataError, match=r"no test/ folder.*anatomy_test\.csv|test/<subject>_test"):
        load("mmlu-med", data_dir)


def test_mmlu_accepts_the_tar_data_folder(data_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(data_dir / "mmlu-med" / "dev", tmp_path / "mmlu-med" / "data" / "dev")
    assert len(load("mmlu-med", tmp_path, "dev")) == 30


def _mmlu_rows(subject: str, n: int) -> list[dict]:
    return [
        {
            "question": f"{subject} question {i}?",
            "subject": subject,
            "choices": [f"{subject} {i} option {k}" for k in "abcd"],
            "answer": i % 4,
        }
        for i in range(n)
    ]


MMLU_FEATURES = datasets.Features(
    {
        "question": datasets.Value("string"),
        "subject": datasets.Value("string"),
        "choices": datasets.Sequence(datasets.Value("string")),
        "answer": datasets.ClassLabel(names=["A", "B", "C", "D"]),
    }
)
SIX = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)


def test_mmlu_hf_parquet_per_subject(tmp_path: Path) -> None:
    root = tmp_path / "mmlu-med"
    for subject in (*SIX, "astronomy"):  # a full snapshot also has non-medical subjects
        to_parquet(
            _mmlu_rows(subject, 3), root / subject / "test-00000-of-00001.parquet", MMLU_FEATURES
        )
        to_parquet(
            _mmlu_rows(subject, 2),
            root / subject / "validation-00000-of-00001.parquet",
            MMLU_FEATURES,
        )
    samples = load("mmlu-med", tmp_path)
    assert len(samples) == 18
    assert [s.id for s in samples[:3]] == ["anatomy-test-0", "anatomy-test-1", "anatomy-test-2"]
    # answer is the class index: 0 -> A, 1 -> B, 2 -> C
    assert [s.answer for s in samples[:3]] == ["A", "B", "C"]
    assert samples[2].options["C"] == "anatomy 2 option c"
    assert {s.categories["subject"] for s in samples} == set(SIX)
    assert len(load("mmlu-med", tmp_path, "val")) == 12  # "val" reads cais/mmlu's "validation"


def test_mmlu_hf_save_to_disk_all_config(tmp_path: Path) -> None:
    rows = _mmlu_rows("astronomy", 2) + [r for s in SIX for r in _mmlu_rows(s, 1)]
    ds = datasets.Dataset.from_list(rows, features=MMLU_FEATURES)
    datasets.DatasetDict({"test": ds, "dev": ds}).save_to_disk(str(tmp_path / "mmlu-med"))
    samples = load("mmlu-med", tmp_path)
    assert [s.categories["subject"] for s in samples] == list(SIX)
    assert all(s.answer == "A" and s.id.endswith("-test-0") for s in samples)


def test_mmlu_bad_answer_names_file_and_row(data_dir: Path, tmp_path: Path) -> None:
    copy_bundled(data_dir, "mmlu-med", tmp_path)
    path = tmp_path / "mmlu-med" / "dev" / "anatomy_dev.csv"
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    rows[2][5] = "E"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(DataError, match=rf"{at(path)}: row 3: answer 'E' is not one of A, B, C, D"):
        load("mmlu-med", tmp_path, "dev")


def test_mmlu_wrong_column_count_and_missing_subject(data_dir: Path, tmp_path: Path) -> None:
    copy_bundled(data_dir, "mmlu-med", tmp_path)
    path = tmp_path / "mmlu-med" / "dev" / "college_biology_dev.csv"
    path.write_text(path.read_text(encoding="utf-8") + "only,three,columns\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{at(path)}: row 6: expected 6 columns"):
        load("mmlu-med", tmp_path, "dev")
    (tmp_path / "mmlu-med" / "val" / "medical_genetics_val.csv").unlink()
    with pytest.raises(DataError, match=r"missing medical_genetics_val\.csv"):
        load("mmlu-med", tmp_path, "val")


# ---- PubMedQA ---------------------------------------------------------------------------


def test_pubmedqa_bundled_all_split(data_dir: Path) -> None:
    samples = load("pubmedqa", data_dir, "all")
    release = json.loads((data_dir / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    assert [s.id for s in samples] == list(release)
    letter = {"yes": "A", "no": "B", "maybe": "C"}
    assert [s.answer for s in samples] == [letter[e["final_decision"]] for e in release.values()]
    assert Counter(s.answer for s in samples) == {"A": 276, "B": 169, "C": 55}
    first = samples[0]
    assert first.id == "10808977" and first.answer == "A"
    assert first.question == "Can tailored interventions increase mammography use among HMO women?"
    assert first.options == {"A": "yes", "B": "no", "C": "maybe"}
    assert first.context is not None
    sections = first.context.split("\n")
    assert sections[0].startswith("BACKGROUND: Telephone counseling and tailored print")
    assert sections[1] == "DESIGN: Three-year randomized field trial."
    assert len(sections) == 6
    assert "LONG_ANSWER" not in first.context
    assert release["10808977"]["LONG_ANSWER"] not in first.context  # the conclusion gives it away


def test_pubmedqa_test_split_needs_ground_truth(data_dir: Path) -> None:
    with pytest.raises(DataError, match=r"test_ground_truth\.json: not found.*--split all"):
        load("pubmedqa", data_dir)


def test_pubmedqa_test_split_follows_ground_truth(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy_bundled(data_dir, "pubmedqa", tmp_path)
    release = json.loads((data_dir / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    chosen = list(release)[10:13][::-1]
    truth = {pmid: release[pmid]["final_decision"] for pmid in chosen}
    (tmp_path / "pubmedqa" / "test_ground_truth.json").write_text(json.dumps(truth))
    with caplog.at_level(logging.WARNING):
        samples = load("pubmedqa", tmp_path)
    assert [s.id for s in samples] == chosen
    assert "pubmedqa: loaded 3 samples" in caplog.text and "500" in caplog.text


def test_pubmedqa_ground_truth_errors(data_dir: Path, tmp_path: Path) -> None:
    copy_bundled(data_dir, "pubmedqa", tmp_path)
    release = json.loads((data_dir / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    pmid = next(iter(release))
    truth_path = tmp_path / "pubmedqa" / "test_ground_truth.json"
    truth_path.write_text(json.dumps({"99999999": "yes"}))
    with pytest.raises(DataError, match=rf"{at(truth_path)}: pmid 99999999: .*not among the 500"):
        load("pubmedqa", tmp_path)
    wrong = "no" if release[pmid]["final_decision"] != "no" else "yes"
    truth_path.write_text(json.dumps({pmid: wrong}))
    with pytest.raises(DataError, match=rf"pmid {pmid}: ground truth says '{wrong}'"):
        load("pubmedqa", tmp_path)
    truth_path.write_text(json.dumps({pmid: "perhaps"}))
    with pytest.raises(DataError, match="label 'perhaps' is not one of yes, no, maybe"):
        load("pubmedqa", tmp_path)


def test_pubmedqa_entry_errors(tmp_path: Path) -> None:
    path = tmp_path / "pubmedqa" / "ori_pqal.json"
    path.parent.mkdir()
    entry = {"QUESTION": "Q?", "CONTEXTS": ["a", "b"], "LABELS": ["X"], "final_decision": "yes"}
    path.write_text(json.dumps({"123": entry}))
    with pytest.raises(DataError, match=rf"{at(path)}: pmid 123: 1 LABELS for 2 CONTEXTS"):
        load("pubmedqa", tmp_path, "all")
    path.write_text(json.dumps({"123": {**entry, "LABELS": ["X", "Y"], "final_decision": "sure"}}))
    with pytest.raises(DataError, match="pmid 123: final_decision 'sure'"):
        load("pubmedqa", tmp_path, "all")
    del entry["QUESTION"]
    path.write_text(json.dumps({"123": entry}))
    with pytest.raises(DataError, match="pmid 123: missing field 'QUESTION'"):
        load("pubmedqa", tmp_path, "all")
    path.write_text('{"123": {"QUESTION": ')
    with pytest.raises(DataError, match=rf"{at(path)}: not valid JSON"):
        load("pubmedqa", tmp_path, "all")


def test_pubmedqa_hf_pqa_labeled(tmp_path: Path) -> None:
    features = datasets.Features(
        {
            "pubid": datasets.Value("int32"),
            "question": datasets.Value("string"),
            "context": datasets.Sequence(
                {
                    "contexts": datasets.Value("string"),
                    "labels": datasets.Value("string"),
                    "meshes": datasets.Value("string"),
                }
            ),
            "long_answer": datasets.Value("string"),
            "final_decision": datasets.Value("string"),
        }
    )
    rows = [
        {
            "pubid": 111,
            "question": "Does A cause B?",
            "context": {
                "contexts": ["Aim.", "Result."],
                "labels": ["OBJECTIVE", "RESULTS"],
                "meshes": ["Humans"],
            },
            "long_answer": "A causes B.",
            "final_decision": "maybe",
        },
        {
            "pubid": 222,
            "question": "Is C safe?",
            "context": {"contexts": ["Trial."], "labels": ["METHODS"], "meshes": []},
            "long_answer": "C is safe.",
            "final_decision": "no",
        },
    ]
    root = tmp_path / "pubmedqa"
    to_parquet(rows, root / "pqa_labeled" / "train-00000-of-00001.parquet", features)
    samples = load("pubmedqa", tmp_path, "all")
    assert [(s.id, s.answer) for s in samples] == [("111", "C"), ("222", "B")]
    assert samples[0].context == "OBJECTIVE: Aim.\nRESULTS: Result."
    (root / "test_ground_truth.json").write_text(json.dumps({"222": "no"}))
    assert [s.id for s in load("pubmedqa", tmp_path)] == ["222"]


# ---- MedMCQA ----------------------------------------------------------------------------


def test_medmcqa_bundled_dev(data_dir: Path) -> None:
    samples = load("medmcqa", data_dir)
    raw = [json.loads(line) for line in (data_dir / "medmcqa" / "dev.json").open(encoding="utf-8")]
    assert len(samples) == len(raw) == 200
    assert [s.id for s in samples] == [r["id"] for r in raw]
    # The release's cop is 1-based: 1 -> A.
    assert [s.answer for s in samples] == ["ABCD"[r["cop"] - 1] for r in raw]
    assert Counter(s.answer for s in samples) == {"A": 71, "B": 61, "C": 37, "D": 31}
    first = samples[0]
    assert first.id == "45258d3d-b974-44dd-a161-c3fccbdadd88"
    assert first.question == "Which of the following is not true for myelinated nerve fibers:"
    assert first.answer == "A"
    assert (
        first.options["A"]
        == "Impulse through myelinated fibers is slower than non-myelinated fibers"
    )
    assert first.categories == {"subject": "Physiology"}  # topic_name is null in this row
    assert sum("topic" in s.categories for s in samples) == 200 - 177


def test_medmcqa_hf_validation_is_zero_based(tmp_path: Path) -> None:
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "question": datasets.Value("string"),
            "opa": datasets.Value("string"),
            "opb": datasets.Value("string"),
            "opc": datasets.Value("string"),
            "opd": datasets.Value("string"),
            "cop": datasets.ClassLabel(names=["a", "b", "c", "d"]),
            "choice_type": datasets.Value("string"),
            "exp": datasets.Value("string"),
            "subject_name": datasets.Value("string"),
            "topic_name": datasets.Value("string"),
        }
    )
    rows = [
        {
            "id": f"q{i}",
            "question": f"Q{i}?",
            "opa": "a",
            "opb": "b",
            "opc": "c",
            "opd": "d",
            "cop": i,
            "choice_type": "single",
            "exp": None,
            "subject_name": "Anatomy",
            "topic_name": "Thorax" if i == 3 else None,
        }
        for i in range(4)
    ]
    root = tmp_path / "medmcqa" / "data"
    to_parquet(rows, root / "validation-00000-of-00001.parquet", features)
    to_parquet(rows[:1], root / "train-00000-of-00001.parquet", features)
    samples = load("medmcqa", tmp_path)
    assert [(s.id, s.answer) for s in samples] == [
        ("q0", "A"),
        ("q1", "B"),
        ("q2", "C"),
        ("q3", "D"),
    ]
    assert samples[3].categories == {"subject": "Anatomy", "topic": "Thorax"}


def test_medmcqa_hf_unlabelled_row(tmp_path: Path) -> None:
    row = {
        "id": "t0",
        "question": "Q?",
        "opa": "a",
        "opb": "b",
        "opc": "c",
        "opd": "d",
        "cop": -1,
        "subject_name": "Anatomy",
        "topic_name": None,
    }
    to_parquet([row], tmp_path / "medmcqa" / "validation-00000-of-00001.parquet")
    with pytest.raises(DataError, match=r"validation row 0: cop -1 is not 0-3"):
        load("medmcqa", tmp_path)


def _medmcqa_release(tmp_path: Path, data_dir: Path, edit) -> Path:
    lines = (data_dir / "medmcqa" / "dev.json").read_text(encoding="utf-8").splitlines()[:3]
    rows = [json.loads(line) for line in lines]
    edit(rows)
    path = tmp_path / "medmcqa" / "dev.json"
    write_jsonl(path, rows)
    return path


def test_medmcqa_missing_cop_names_file_and_line(data_dir: Path, tmp_path: Path) -> None:
    path = _medmcqa_release(tmp_path, data_dir, lambda rows: rows[1].pop("cop"))
    with pytest.raises(DataError, match=rf"{at(path)}:2: missing field 'cop'.*use dev\.json"):
        load("medmcqa", tmp_path)


def test_medmcqa_bad_rows(data_dir: Path, tmp_path: Path) -> None:
    path = _medmcqa_release(tmp_path, data_dir, lambda rows: rows[2].update(cop=5))
    with pytest.raises(DataError, match=rf"{at(path)}:3: cop 5 is not 1-4"):
        load("medmcqa", tmp_path)
    path = _medmcqa_release(tmp_path, data_dir, lambda rows: rows[2].update(id=rows[0]["id"]))
    with pytest.raises(
        DataError, match=rf"{at(path)}:3: duplicate id .* \(first at {at(path)}:1\)"
    ):
        load("medmcqa", tmp_path)
    path = _medmcqa_release(tmp_path, data_dir, lambda rows: rows[0].pop("opc"))
    with pytest.raises(DataError, match=rf"{at(path)}:1: missing field 'opc'"):
        load("medmcqa", tmp_path)
    path = _medmcqa_release(tmp_path, data_dir, lambda rows: None)
    path.write_text(path.read_text(encoding="utf-8") + '{"id": "broken", \n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"{at(path)}:4: not a JSON object"):
        load("medmcqa", tmp_path)


# ---- MedQA-USMLE ------------------------------------------------------------------------


def test_medqa_bundled_first_100(data_dir: Path) -> None:
    samples = load("medqa-usmle", data_dir)
    path = data_dir / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    raw = [json.loads(line) for line in path.open(encoding="utf-8")]
    assert len(samples) == len(raw) == 100
    first = samples[0]
    assert first.id == "test-0"
    assert first.question.startswith("A junior orthopaedic surgery resident is completing a carpal")
    assert first.answer == "B"
    assert first.options["B"] == "Tell the attending that he cannot fail to disclose this mistake"
    assert first.categories == {"meta_info": "step1"}
    for s, r in zip(samples, raw, strict=True):
        assert s.options == r["options"] and s.answer == r["answer_idx"]
        assert s.options[s.answer] == r["answer"]  # the gold letter points at the answer text
    assert Counter(s.answer for s in samples) == {"C": 27, "A": 25, "D": 25, "B": 23}
    assert Counter(s.categories["meta_info"] for s in samples) == {"step1": 53, "step2&3": 47}


def test_medqa_finds_the_file_in_the_release_tree(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    deep = tmp_path / "medqa-usmle" / "data_clean" / "questions" / "US" / "4_options"
    deep.mkdir(parents=True)
    shutil.copy(src, deep / src.name)
    # the release's 5-option US/test.jsonl sits nearby and must not be picked
    write_jsonl(deep.parent / "test.jsonl", [{"question": "5 options", "options": {}}])
    assert len(load("medqa-usmle", tmp_path)) == 100
    # another copy of the file name elsewhere: the 4_options one wins
    other = tmp_path / "medqa-usmle" / "elsewhere" / src.name
    write_jsonl(other, [{"question": "not the 4-option file", "options": {}}])
    assert len(load("medqa-usmle", tmp_path)) == 100
    # two candidates and none in 4_options: refuse to guess
    shutil.move(deep / src.name, tmp_path / "medqa-usmle" / src.name)
    with pytest.raises(DataError, match=r"several phrases_no_exclude_test\.jsonl files"):
        load("medqa-usmle", tmp_path)


def test_medqa_hf_save_to_disk(data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    raw = [json.loads(line) for line in path.open(encoding="utf-8")][:5]
    ds = datasets.Dataset.from_list(raw)
    datasets.DatasetDict({"train": ds.select([0]), "test": ds}).save_to_disk(
        str(tmp_path / "medqa-usmle")
    )
    samples = load("medqa-usmle", tmp_path)
    assert [s.answer for s in samples] == [r["answer_idx"] for r in raw]
    assert samples[0].options == raw[0]["options"] and samples[0].id == "test-0"


def test_medqa_bad_rows(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()[:3]
    path = tmp_path / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join([lines[0], "{not json", lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{at(path)}:2: not a JSON object"):
        load("medqa-usmle", tmp_path)
    rows = [json.loads(line) for line in lines]
    rows[1]["answer_idx"] = "E"
    write_jsonl(path, rows)
    with pytest.raises(DataError, match=rf"{at(path)}:2: answer_idx 'E' is not one of A, B, C, D"):
        load("medqa-usmle", tmp_path)
    rows[1]["answer_idx"] = "A"
    rows[2]["options"]["E"] = "a fifth option"
    write_jsonl(path, rows)
    with pytest.raises(DataError, match=rf"{at(path)}:3: options .* not exactly A-D.*5-option"):
        load("medqa-usmle", tmp_path)
    del rows[2]["options"]["E"], rows[0]["question"]
    write_jsonl(path, rows)
    with pytest.raises(DataError, match=rf"{at(path)}:1: missing field 'question'"):
        load("medqa-usmle", tmp_path)


# ---- Medbullets -------------------------------------------------------------------------


def test_medbullets_op4_release_csv() -> None:
    samples = load("medbullets-op4", FIXTURES)
    assert [(s.id, s.answer) for s in samples] == [("0", "A"), ("1", "C"), ("2", "B")]
    assert samples[1].options == {
        "A": "Left anterior descending artery",
        "B": "Left circumflex artery",
        "C": "Right coronary artery",
        "D": "Left main coronary artery",
    }
    assert samples[2].question.startswith('A 7-year-old boy has a "barking" cough')
    assert all(s.task == "mcq" and s.benchmark == "medbullets-op4" for s in samples)


def test_medbullets_op5_release_json() -> None:
    samples = load("medbullets-op5", FIXTURES)
    assert [s.answer for s in samples] == ["C", "A", "E"]
    assert samples[2].options["E"] == "Right coronary artery"
    assert list(samples[0].options) == ["A", "B", "C", "D", "E"]


def test_medbullets_count_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        load("medbullets-op4", FIXTURES)
    assert "medbullets-op4: loaded 3 samples" in caplog.text and "308" in caplog.text


def test_medbullets_hf_exports(tmp_path: Path) -> None:
    op4 = [
        {
            "question": "Q1?",
            "answer": "b",
            "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
            "answer_idx": "B",
        },
        {
            "question": "Q2?",
            "answer": "d",
            "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
            "answer_idx": "D",
        },
    ]
    to_parquet(op4, tmp_path / "medbullets-op4" / "data" / "train-00000-of-00001.parquet")
    assert [s.answer for s in load("medbullets-op4", tmp_path)] == ["B", "D"]
    op5 = [
        {
            "question": "Q?",
            "opa": "a",
            "opb": "b",
            "opc": "c",
            "opd": "d",
            "ope": "e",
            "answer_idx": "E",
            "answer": "e",
            "explanation": "x",
            "link": "l",
        }
    ]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(op5)}).save_to_disk(
        str(tmp_path / "medbullets-op5")
    )
    (sample,) = load("medbullets-op5", tmp_path)
    assert sample.answer == "E" and sample.options["E"] == "e"


def test_medbullets_bad_input(tmp_path: Path) -> None:
    root = tmp_path / "medbullets-op4"
    shutil.copytree(FIXTURES / "medbullets-op4", root)
    path = root / "medbullets_op4.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(",C,Right coronary artery,", ",E,Right coronary artery,"), encoding="utf-8"
    )
    # row 3 in spreadsheet terms: the header is row 1, the first question row 2
    with pytest.raises(
        DataError,
        match=rf"{at(path)}: row 3: answer_idx 'E' is not one of the option letters A, B, C, D",
    ):
        load("medbullets-op4", tmp_path)
    # the op5 file in the op4 folder is refused
    path.unlink()
    shutil.copy(FIXTURES / "medbullets-op5" / "medbullets_op5.json", root / "medbullets_op4.json")
    with pytest.raises(DataError, match=r"row 0: options .* not exactly A-D"):
        load("medbullets-op4", tmp_path)


# ---- MedXpertQA -------------------------------------------------------------------------


def test_medxpertqa_text_release() -> None:
    samples = load("medxpertqa-text", FIXTURES)
    assert [(s.id, s.answer) for s in samples] == [
        ("Text-0", "A"),
        ("Text-1", "E"),
        ("Text-2", "B"),
    ]
    s = samples[1]
    assert list(s.options) == list("ABCDEFGHIJ")
    assert s.options["E"] == "Galactose-1-phosphate uridyltransferase"
    assert s.question.startswith(
        "Which enzyme is deficient in classic galactosemia? Answer Choices: (A)"
    )
    assert s.categories == {
        "medical_task": "Basic Medicine",
        "body_system": "Digestive",
        "question_type": "Understanding",
    }
    assert s.images == ()
    (dev,) = load("medxpertqa-text", FIXTURES, "dev")
    assert dev.id == "Text-9"


def test_medxpertqa_mm_release_resolves_images() -> None:
    samples = load("medxpertqa-mm", FIXTURES)
    assert [(s.id, s.answer) for s in samples] == [("MM-0", "E"), ("MM-1", "B")]
    images = FIXTURES / "medxpertqa-mm" / "images"
    assert samples[1].images == (str(images / "MM-1-a.jpeg"), str(images / "MM-1-b.jpeg"))
    assert all(Path(p).is_file() for s in samples for p in s.images)
    assert list(samples[0].options) == list("ABCDE")
    assert samples[0].categories["body_system"] == "Respiratory"


def test_medxpertqa_mm_without_images_folder(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "medxpertqa-mm" / "MM", tmp_path / "medxpertqa-mm" / "MM")
    with pytest.raises(DataError, match=r"test\.jsonl:1: image 'MM-0-a\.jpeg' .*images\.zip"):
        load("medxpertqa-mm", tmp_path)


def test_medxpertqa_subsets_are_not_confused(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "medxpertqa-mm" / "MM", tmp_path / "medxpertqa-text" / "Text")
    with pytest.raises(DataError, match=r"Text/test\.jsonl:1: row lists images"):
        load("medxpertqa-text", tmp_path)
    shutil.copytree(FIXTURES / "medxpertqa-text" / "Text", tmp_path / "medxpertqa-mm" / "MM")
    with pytest.raises(DataError, match=r"MM/test\.jsonl:1: no images listed"):
        load("medxpertqa-mm", tmp_path)


def test_medxpertqa_bad_rows(tmp_path: Path) -> None:
    src = FIXTURES / "medxpertqa-text" / "Text" / "test.jsonl"
    rows = [json.loads(line) for line in src.open(encoding="utf-8")]
    path = tmp_path / "medxpertqa-text" / "Text" / "test.jsonl"
    rows[1]["label"] = "K"
    write_jsonl(path, rows)
    with pytest.raises(
        DataError, match=rf"{at(path)}:2: label 'K' is not one of the option letters A, B"
    ):
        load("medxpertqa-text", tmp_path)
    rows[1]["label"] = "E"
    rows[2]["id"] = "Text-0"
    write_jsonl(path, rows)
    with pytest.raises(
        DataError, match=rf"{at(path)}:3: duplicate id 'Text-0' \(first at {at(path)}:1\)"
    ):
        load("medxpertqa-text", tmp_path)
    rows[2]["id"] = "Text-2"
    del rows[0]["body_system"]
    write_jsonl(path, rows)
    with pytest.raises(DataError, match=rf"{at(path)}:1: missing field 'body_system'"):
        load("medxpertqa-text", tmp_path)


def test_medxpertqa_hf_parquet_picks_its_config(tmp_path: Path) -> None:
    def rows(subset: str) -> list[dict]:
        src = FIXTURES / f"medxpertqa-{subset.lower()}" / subset / "test.jsonl"
        return [json.loads(line) for line in src.open(encoding="utf-8")]

    root = tmp_path / "medxpertqa-text"  # a snapshot of the whole repository, converted
    to_parquet(rows("Text"), root / "Text" / "test" / "0000.parquet")
    to_parquet(rows("MM"), root / "MM" / "test" / "0000.parquet")
    samples = load("medxpertqa-text", tmp_path)
    assert [s.id for s in samples] == ["Text-0", "Text-1", "Text-2"]
    assert list(samples[0].options) == list("ABCDEFGHIJ")


def test_medxpertqa_mm_hf_with_embedded_images(tmp_path: Path) -> None:
    src = FIXTURES / "medxpertqa-mm" / "MM" / "test.jsonl"
    rows = [json.loads(line) for line in src.open(encoding="utf-8")]
    images = FIXTURES / "medxpertqa-mm" / "images"
    for row in rows:
        row["images"] = [
            {"bytes": (images / name).read_bytes(), "path": name} for name in row["images"]
        ]
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "question": datasets.Value("string"),
            "options": {k: datasets.Value("string") for k in "ABCDE"},
            "label": datasets.Value("string"),
            "images": datasets.Sequence(datasets.Image()),
            "medical_task": datasets.Value("string"),
            "body_system": datasets.Value("string"),
            "question_type": datasets.Value("string"),
        }
    )
    to_parquet(rows, tmp_path / "medxpertqa-mm" / "MM" / "test-00000-of-00001.parquet", features)
    samples = load("medxpertqa-mm", tmp_path)
    assert [len(s.images) for s in samples] == [1, 2]
    cache = image_cache_dir()  # never the data folder
    for path, name in zip(samples[1].images, ["MM-1-a.jpeg", "MM-1-b.jpeg"], strict=True):
        assert Path(path).parent == cache
        # the same pixels as the original file (bytes are copied as is when the export
        # hands them over undecoded; decoded images are stored losslessly as PNG)
        with Image.open(path) as got, Image.open(images / name) as want:
            assert got.size == want.size
            assert list(got.convert("RGB").getdata()) == list(want.convert("RGB").getdata())


# ---- SuperGPQA (Medicine) ----------------------------------------------------------------


def test_supergpqa_release_filters_medicine() -> None:
    samples = load("supergpqa-med", FIXTURES)
    assert [(s.id, s.answer) for s in samples] == [
        ("fx0001", "A"),
        ("fx0003", "D"),
        ("fx0004", "B"),
    ]
    s = samples[1]
    assert list(s.options) == list("ABCDEFGH") and s.options["D"] == "24 to 30 hours"
    assert s.categories == {"field": "Pharmacy", "subfield": "Pharmacology", "difficulty": "middle"}
    assert len(samples[2].options) == 10


def test_supergpqa_hf_parquet(tmp_path: Path) -> None:
    src = FIXTURES / "supergpqa-med" / "SuperGPQA-all.jsonl"
    rows = [json.loads(line) for line in src.open(encoding="utf-8")]
    to_parquet(rows, tmp_path / "supergpqa-med" / "data" / "train-00000-of-00001.parquet")
    assert [s.id for s in load("supergpqa-med", tmp_path)] == ["fx0001", "fx0003", "fx0004"]


def test_supergpqa_bad_rows(tmp_path: Path) -> None:
    src = FIXTURES / "supergpqa-med" / "SuperGPQA-all.jsonl"
    rows = [json.loads(line) for line in src.open(encoding="utf-8")]
    path = tmp_path / "supergpqa-med" / "SuperGPQA-all.jsonl"
    rows[2]["answer_letter"] = "J"  # eight options: A-H
    write_jsonl(path, rows)
    with pytest.raises(
        DataError, match=rf"{at(path)}:3: answer_letter 'J' is not one of the option letters A-H"
    ):
        load("supergpqa-med", tmp_path)
    rows[2]["answer_letter"] = "D"
    rows[3]["uuid"] = "fx0001"
    write_jsonl(path, rows)
    with pytest.raises(
        DataError, match=rf"{at(path)}:4: duplicate uuid 'fx0001' \(first at {at(path)}:1\)"
    ):
        load("supergpqa-med", tmp_path)
    rows[3]["uuid"] = "fx0004"
    del rows[4]["discipline"]
    write_jsonl(path, rows)
    with pytest.raises(DataError, match=rf"{at(path)}:5: missing field 'discipline'"):
        load("supergpqa-med", tmp_path)


# ---- the count warning ------------------------------------------------------------------


def test_count_warning_only_when_counts_differ(
    data_dir: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caplog.at_level(logging.WARNING, logger="lingshu.eval.benchmarks.base"):
        load("medqa-usmle", data_dir)
    assert "medqa-usmle: loaded 100 samples" in caplog.text and "1273" in caplog.text
    caplog.clear()
    bench = get_benchmark("medqa-usmle")
    monkeypatch.setattr(type(bench), "expected_count", 100)
    with caplog.at_level(logging.WARNING, logger="lingshu.eval.benchmarks.base"):
        bench.load(data_dir)
    assert caplog.text == ""
    # non-paper splits are never compared with the paper's count
    with caplog.at_level(logging.WARNING, logger="lingshu.eval.benchmarks.base"):
        load("mmlu-med", data_dir, "val")
    assert caplog.text == ""
