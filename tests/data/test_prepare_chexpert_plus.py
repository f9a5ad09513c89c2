"""``prepare chexpert-plus`` end to end on the fixture table (expected outcome worked out by
hand in tests/fixtures/reports/chexpert-plus/README.md), then loaded through the benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lingshu.core.errors import DataError, UserError
from lingshu.core.io import read_jsonl
from lingshu.data.prepare import prepare_chexpert_plus
from lingshu.eval.benchmarks import chexpert_plus  # noqa: F401  (registers "chexpert-plus")
from lingshu.eval.benchmarks.base import BENCHMARKS

DEFAULT_DROPS = {
    "no_frontal_view": 1,
    "missing_findings": 1,
    "image_missing": 1,
    "no_findings_or_impression": 1,
    "dicom_needs_convert": 1,
}


def test_default_rules(chexpert_root, tmp_path):
    out = tmp_path / "chexpert-plus"
    summary = prepare_chexpert_plus(chexpert_root, out)
    assert summary.kept == 3
    assert summary.dropped == DEFAULT_DROPS
    assert summary.notes == {"sections_parsed_from_report_text": 1, "kept_without_impression": 0}
    records = {r["study_id"]: r for r in read_jsonl(out / "test.jsonl")}
    assert list(records) == ["patient64541_study1", "patient64542_study1", "patient64546_study1"]
    r41 = records["patient64541_study1"]
    assert r41["images"] == [
        "PNG/valid/patient64541/study1/view1_frontal.png",
        "PNG/valid/patient64541/study1/view2_lateral.png",
    ]
    assert r41["views"] == ["AP", "LATERAL"]
    assert r41["subject_id"] == "patient64541"
    assert r41["findings"] == (
        "The heart size is normal. The lungs are clear. No pleural effusion or pneumothorax."
    )
    assert r41["impression"] == "1. NO ACUTE CARDIOPULMONARY PROCESS."
    # PA beats AP even though it is the second frontal image by path
    assert records["patient64542_study1"]["source_paths"] == [
        "valid/patient64542/study1/view2_frontal.jpg"
    ]
    assert records["patient64542_study1"]["views"] == ["PA"]
    # section columns empty: parsed from the report text
    assert records["patient64546_study1"]["findings"] == "Right PICC tip in the SVC."
    assert records["patient64546_study1"]["impression"] == "LINE IN GOOD POSITION."
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"]["candidates"] == 8  # the train study is not a candidate
    assert meta["dropped_examples"]["no_frontal_view"] == ["patient64543_study1"]


def test_loads_through_the_registered_benchmark(chexpert_root, tmp_path):
    prepare_chexpert_plus(chexpert_root, tmp_path / "chexpert-plus")
    samples = BENCHMARKS.get("chexpert-plus")().load(tmp_path)
    assert [s.id for s in samples] == [
        "patient64541_study1",
        "patient64542_study1",
        "patient64546_study1",
    ]
    s = samples[0]
    assert s.images == (
        str(chexpert_root / "PNG/valid/patient64541/study1/view1_frontal.png"),
        str(chexpert_root / "PNG/valid/patient64541/study1/view2_lateral.png"),
    )
    assert s.answer == (
        "Findings: The heart size is normal. The lungs are clear. No pleural effusion or "
        "pneumothorax. Impression: 1. NO ACUTE CARDIOPULMONARY PROCESS.."
    )
    assert s.categories == {"view": "AP+LATERAL"}


def test_keep_missing_findings_convert_dicom_and_copy(chexpert_root, tmp_path):
    out = tmp_path / "chexpert-plus"
    summary = prepare_chexpert_plus(
        chexpert_root, out, keep_missing_findings=True, convert_dicom=True, lateral=False
    )
    assert summary.kept == 5
    assert summary.dropped == {
        "no_frontal_view": 1,
        "image_missing": 1,
        "no_findings_or_impression": 1,
    }
    records = {r["study_id"]: r for r in read_jsonl(out / "test.jsonl")}
    assert records["patient64544_study1"]["findings"] == ""
    assert records["patient64544_study1"]["impression"] == "1. STABLE POSTOPERATIVE CHEST."
    assert records["patient64541_study1"]["views"] == ["AP"]  # --no-lateral
    # the DICOM is MONOCHROME1: converted with white and black swapped
    png = out / "images" / records["patient64548_study1"]["images"][0]
    assert records["patient64548_study1"]["images"] == [
        "valid/patient64548/study1/view1_frontal.png"
    ]
    assert np.array_equal(np.array(Image.open(png)), [[255, 191], [128, 0]])
    assert json.loads((out / "meta.json").read_text())["image_root"] == "images"
    assert len(BENCHMARKS.get("chexpert-plus")().load(tmp_path)) == 5


def test_train_split_and_images_folder_option(chexpert_root, tmp_path):
    (chexpert_root / "PNG" / "train").rename(chexpert_root / "train")
    summary = prepare_chexpert_plus(chexpert_root, tmp_path / "o", split="train")
    assert summary.kept == 1
    rec = next(read_jsonl(tmp_path / "o" / "train.jsonl"))
    assert rec["study_id"] == "patient00001_study1"
    assert rec["images"] == ["train/patient00001/study1/view1_frontal.png"]


def test_bad_input(chexpert_root, tmp_path):
    with pytest.raises(UserError, match="--split 'valid'"):
        prepare_chexpert_plus(chexpert_root, tmp_path / "o", split="valid")
    table = chexpert_root / "df_chexpert_plus_240401.csv"
    text = table.read_text(encoding="utf-8")
    table.write_text(text.replace("section_findings", "findings_section", 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"missing column\(s\) \['section_findings'\]"):
        prepare_chexpert_plus(chexpert_root, tmp_path / "o")
    table.unlink()
    with pytest.raises(DataError, match="no df_chexpert_plus_"):
        prepare_chexpert_plus(chexpert_root, tmp_path / "o")
