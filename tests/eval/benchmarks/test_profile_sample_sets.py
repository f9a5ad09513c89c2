"""Sample sets that depend on the profile or on files a tool ships (issue 21, point 5).

- MMLU-Med: the ``medevalkit`` profiles load MedEvalKit's nine subjects, ``strict`` the
  paper's six (a missing extra subject is a one-line error that says which list needs it).
- MMMU-Med ``--split test``: scored against MedEvalKit's ``answer.json`` when it is there,
  refused with the reason when it is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks import get_benchmark
from lingshu.eval.benchmarks.mmlu_med import MEDEVALKIT_SUBJECTS, SUBJECTS
from lingshu.eval.benchmarks.mmmu_med import SUBJECTS as MMMU_SUBJECTS, MmmuMed

from test_multimodal_benchmarks import image_cell, write_parquet  # same folder (rootdir-less import)


def _mmlu(tmp_path: Path, subjects: tuple[str, ...]) -> Path:
    folder = tmp_path / "mmlu-med" / "val"
    folder.mkdir(parents=True)
    for subject in subjects:
        (folder / f"{subject}_val.csv").write_text(f"Q about {subject}?,a,b,c,d,B\n", encoding="utf-8")
    return tmp_path


def test_mmlu_strict_six_medevalkit_nine(tmp_path):
    data = _mmlu(tmp_path, MEDEVALKIT_SUBJECTS)
    bench = get_benchmark("mmlu-med")
    strict = bench.for_profile("strict").load(data, "val")
    kit = bench.for_profile("medevalkit").load(data, "val")
    reasoning = bench.for_profile("medevalkit-reasoning").load(data, "val")
    assert [s.categories["subject"] for s in strict] == list(SUBJECTS)
    assert [s.categories["subject"] for s in kit] == [*SUBJECTS, "nutrition", "virology", "high_school_biology"]
    assert len(reasoning) == 9
    assert bench.for_profile("strict").version == "1"
    assert bench.for_profile("medevalkit").version == "1+medevalkit-subjects"
    assert bench.for_profile("medevalkit").expected_count == 1089 + 306 + 166 + 310


def test_mmlu_medevalkit_names_missing_extra_subjects(tmp_path):
    data = _mmlu(tmp_path, SUBJECTS)
    with pytest.raises(DataError, match=r"missing nutrition_val.csv, virology_val.csv, "
                       r"high_school_biology_val.csv; MMLU-Med needs all 9 subject files "
                       r"\(MedEvalKit's list"):  # fmt: skip
        get_benchmark("mmlu-med").for_profile("medevalkit").load(data, "val")


def _mmmu_test(tmp_path: Path) -> list[str]:
    ids = []
    for n, subject in enumerate(MMMU_SUBJECTS):
        rows = [
            {"id": f"test_{subject}_1", "question": "<image 1> Which?", "options": "['x', 'y', 'z']",
             "answer": "?", "question_type": "multiple-choice", "image_1": image_cell((n, 1, 1))},
            {"id": f"test_{subject}_2", "question": "<image 1> How many?", "options": "[]",
             "answer": "?", "question_type": "open", "image_1": image_cell((n, 2, 2))},
        ]  # fmt: skip
        ids += [r["id"] for r in rows]
        columns = {key: [r[key] for r in rows] for key in rows[0]}
        write_parquet(tmp_path / "mmmu-med" / subject / "test-00000-of-00001.parquet", columns, ("image_1",))
    return ids


def test_mmmu_test_split_needs_answer_json(tmp_path):
    _mmmu_test(tmp_path)
    with pytest.raises(DataError, match=r"--split test needs answer.json: MMMU's release hides"):
        MmmuMed().load(tmp_path, "test")


def test_mmmu_test_split_scored_against_answer_json(tmp_path):
    ids = _mmmu_test(tmp_path)
    gold = {i: ("C" if i.endswith("_1") else ["3", "three"]) for i in ids}
    gold[ids[0]] = {"answer": "A"}
    (tmp_path / "mmmu-med" / "answer.json").write_text(json.dumps(gold), encoding="utf-8")
    samples = MmmuMed().load(tmp_path, "test")
    assert len(samples) == 10
    assert [(s.id, s.task, s.answer) for s in samples[:2]] == [
        (ids[0], "mcq", "A"),
        (ids[1], "vqa", "3"),
    ]
    assert samples[2].answer == "C"


def test_mmmu_test_split_missing_id_is_named(tmp_path):
    ids = _mmmu_test(tmp_path)
    (tmp_path / "mmmu-med" / "answer.json").write_text(json.dumps({ids[0]: "A"}), encoding="utf-8")
    with pytest.raises(DataError, match=rf"\(id {ids[1]}\): no answer in .*answer.json"):
        MmmuMed().load(tmp_path, "test")
