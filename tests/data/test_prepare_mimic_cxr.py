"""``prepare mimic-cxr`` end to end on the fixture release (expected outcome worked out by hand
in tests/fixtures/reports/mimic-cxr/README.md), then loaded through the registered benchmark."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from lingshu.core.errors import DataError, UserError
from lingshu.core.io import read_jsonl
from lingshu.data.prepare import prepare_mimic_cxr
from lingshu.eval.benchmarks import mimic_cxr  # noqa: F401  (registers "mimic-cxr")
from lingshu.eval.benchmarks.base import BENCHMARKS

D = {  # dicom ids of the fixture, by study and view
    "s1_pa": "0000000b-5e1f3a2b-9c7d4e60-1a2b3c4d-00015445",
    "s1_lat": "0000000c-5e1f3a2b-9c7d4e60-1a2b3c4d-00017334",
    "s2_ap_small": "00000015-5e1f3a2b-9c7d4e60-1a2b3c4d-0002899b",
    "s2_ll": "00000017-5e1f3a2b-9c7d4e60-1a2b3c4d-0002c779",
    "s4_pa": "00000029-5e1f3a2b-9c7d4e60-1a2b3c4d-0004f447",
    "s4_ll": "0000002a-5e1f3a2b-9c7d4e60-1a2b3c4d-00051336",
    "s9_ap": "0000005b-5e1f3a2b-9c7d4e60-1a2b3c4d-000afef5",
    "s11_pa": "0000006f-5e1f3a2b-9c7d4e60-1a2b3c4d-000d69a1",
}
DEFAULT_DROPS = {
    "no_frontal_view": 1,
    "missing_findings": 1,
    "report_missing": 1,
    "report_not_utf8": 1,
    "image_missing": 1,
    "dicom_needs_convert": 1,
    "no_findings_or_impression": 1,
}


def img(subject: str, study: str, dicom: str, suffix: str = ".jpg") -> str:
    return f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}{suffix}"


def test_default_rules_keep_drop_and_order(mimic_root, tmp_path):
    out = tmp_path / "data" / "mimic-cxr"
    summary = prepare_mimic_cxr(mimic_root, out)
    assert summary.kept == 3
    assert summary.dropped == DEFAULT_DROPS
    records = list(read_jsonl(out / "test.jsonl"))
    assert [r["study_id"] for r in records] == ["50000001", "50000002", "50000011"]
    by_id = {r["study_id"]: r for r in records}
    assert by_id["50000001"]["images"] == [
        img("10000001", "50000001", D["s1_pa"]),
        img("10000001", "50000001", D["s1_lat"]),
    ]
    assert by_id["50000001"]["views"] == ["PA", "LATERAL"]
    assert by_id["50000001"]["findings"] == (
        "The lungs are clear without focal consolidation. No pleural effusion or pneumothorax "
        "is seen. The cardiomediastinal silhouette is within normal limits."
    )
    assert by_id["50000001"]["impression"] == "No acute cardiopulmonary process."
    # two AP images: the smaller dicom_id wins; LL is a lateral
    assert by_id["50000002"]["dicom_ids"] == [D["s2_ap_small"], D["s2_ll"]]
    assert by_id["50000002"]["views"] == ["AP", "LL"]
    # AP AXIAL is never chosen; findings without impression are kept
    assert by_id["50000011"]["dicom_ids"] == [D["s11_pa"]]
    assert by_id["50000011"]["impression"] == ""

    meta = json.loads((out / "meta.json").read_text())
    assert meta["dataset"] == "mimic-cxr" and meta["split"] == "test"
    assert meta["image_root"] == str(mimic_root.absolute())
    assert meta["counts"]["kept"] == 3
    assert meta["counts"]["candidates"] == 10  # s50000008 is in the train split
    assert meta["counts"]["dropped"] == DEFAULT_DROPS
    assert meta["counts"]["kept_without_impression"] == 1
    assert meta["dropped_examples"]["report_not_utf8"] == ["50000006"]
    assert not (out / "images").exists()  # nothing copied by default


def test_prepared_output_loads_through_the_registered_benchmark(mimic_root, tmp_path):
    prepare_mimic_cxr(mimic_root, tmp_path / "data" / "mimic-cxr")
    samples = BENCHMARKS.get("mimic-cxr")().load(tmp_path / "data")
    assert [s.id for s in samples] == ["50000001", "50000002", "50000011"]
    s1 = samples[0]
    assert s1.task == "report" and s1.benchmark == "mimic-cxr"
    assert s1.images == (
        str(mimic_root / img("10000001", "50000001", D["s1_pa"])),
        str(mimic_root / img("10000001", "50000001", D["s1_lat"])),
    )
    assert s1.answer == (
        "Findings: The lungs are clear without focal consolidation. No pleural effusion or "
        "pneumothorax is seen. The cardiomediastinal silhouette is within normal limits. "
        "Impression: No acute cardiopulmonary process.."
    )
    assert s1.sections == {
        "findings": "The lungs are clear without focal consolidation. No pleural effusion or "
        "pneumothorax is seen. The cardiomediastinal silhouette is within normal limits.",
        "impression": "No acute cardiopulmonary process.",
    }
    assert s1.categories == {"view": "PA+LATERAL"}
    assert samples[2].answer == "Findings: Heart size is normal. Lungs are clear. Impression: ."


def test_keep_missing_findings_and_convert_dicom(mimic_root, tmp_path):
    out = tmp_path / "mimic-cxr"
    summary = prepare_mimic_cxr(mimic_root, out, keep_missing_findings=True, convert_dicom=True)
    assert summary.kept == 5
    assert summary.dropped == {
        "no_frontal_view": 1,
        "report_missing": 1,
        "report_not_utf8": 1,
        "image_missing": 1,
        "no_findings_or_impression": 1,
    }
    records = {r["study_id"]: r for r in read_jsonl(out / "test.jsonl")}
    assert records["50000004"]["findings"] == ""
    assert records["50000004"]["impression"] == (
        "Compared to the prior study there is no significant interval change."
    )
    assert records["50000004"]["views"] == ["PA", "LL"]
    # a DICOM was converted, so every image now lives under out/images (image_root "images")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["image_root"] == "images"
    assert records["50000009"]["images"] == [img("12000003", "50000009", D["s9_ap"], ".png")]
    png = out / "images" / records["50000009"]["images"][0]
    assert np.array_equal(np.array(Image.open(png)), [[0, 64], [128, 255]])
    copied = out / "images" / records["50000001"]["images"][0]
    assert copied.read_bytes() == (mimic_root / records["50000001"]["images"][0]).read_bytes()
    samples = BENCHMARKS.get("mimic-cxr")().load(tmp_path)
    assert {s.id for s in samples} == set(records)


def test_no_lateral(mimic_root, tmp_path):
    prepare_mimic_cxr(mimic_root, tmp_path / "m", lateral=False)
    records = list(read_jsonl(tmp_path / "m" / "test.jsonl"))
    assert [r["views"] for r in records] == [["PA"], ["AP"], ["PA"]]


def test_gzipped_csvs_and_zipped_reports_give_the_same_result(mimic_root, tmp_path):
    prepare_mimic_cxr(mimic_root, tmp_path / "plain")
    for name in ("mimic-cxr-2.0.0-split.csv", "mimic-cxr-2.0.0-metadata.csv"):
        src = mimic_root / name
        with gzip.open(mimic_root / f"{name}.gz", "wb") as fh:
            fh.write(src.read_bytes())
        src.unlink()
    with zipfile.ZipFile(mimic_root / "mimic-cxr-reports.zip", "w") as zf:
        for txt in sorted((mimic_root / "files").rglob("*.txt")):
            zf.write(txt, txt.relative_to(mimic_root).as_posix())
            txt.unlink()
    summary = prepare_mimic_cxr(mimic_root, tmp_path / "packed")
    assert summary.dropped == DEFAULT_DROPS
    assert (tmp_path / "packed" / "test.jsonl").read_text() == (
        tmp_path / "plain" / "test.jsonl"
    ).read_text()


def test_validate_split(mimic_root, tmp_path):
    with pytest.raises(DataError, match="no rows with split == 'validate'"):
        prepare_mimic_cxr(mimic_root, tmp_path / "v", split="validate")
    summary = prepare_mimic_cxr(mimic_root, tmp_path / "t", split="train")
    assert summary.kept == 1 and summary.dropped == {}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: (r / "mimic-cxr-2.0.0-split.csv").unlink(), "no MIMIC-CXR split CSV"),
        (lambda r: (r / "mimic-cxr-2.0.0-metadata.csv").unlink(), "no MIMIC-CXR metadata CSV"),
        (
            lambda r: (r / "mimic-cxr-2.0.0-metadata.csv").write_text(
                "dicom_id,subject_id,study_id,Rows\nx,1,2,3\n"
            ),
            r"missing column\(s\) \['ViewPosition'\]",
        ),
        (
            lambda r: (r / "mimic-cxr-2.0.0-split.csv").write_text(
                "dicom_id,study_id,subject_id,split\nabc,,10000001,test\n"
            ),
            r"mimic-cxr-2.0.0-split.csv:2: expected dicom_id and numeric",
        ),
        (
            lambda r: (r / "mimic-cxr-2.0.0-split.csv").write_bytes(
                b"dicom_id,study_id,subject_id,split\n\xff\xfe,1,2,test\n"
            ),
            "not UTF-8",
        ),
        (
            lambda r: (r / "mimic-cxr-reports.zip").write_bytes(b"not a zip"),
            "not a readable zip archive",
        ),
    ],
)
def test_bad_input_is_a_one_line_data_error(mimic_root, tmp_path, damage, message):
    damage(mimic_root)
    with pytest.raises(DataError, match=message) as err:
        prepare_mimic_cxr(mimic_root, tmp_path / "out")
    assert "\n" not in str(err.value)


def test_bad_arguments(mimic_root, tmp_path):
    with pytest.raises(UserError, match="--split 'val'"):
        prepare_mimic_cxr(mimic_root, tmp_path / "o", split="val")
    with pytest.raises(DataError, match="MIMIC-CXR root folder not found"):
        prepare_mimic_cxr(tmp_path / "nope", tmp_path / "o")
    shutil.rmtree(mimic_root / "files")
    summary = prepare_mimic_cxr(mimic_root, tmp_path / "o")
    assert summary.kept == 0 and summary.dropped == {"report_missing": 10}
