"""The report-generation benchmarks (iu-xray, mimic-cxr, chexpert-plus) on every layout they
load: the prepared layout (written here by hand, and by ``lingshu data prepare`` end to end),
ReXrank's JSON and MedEvalKit's test.json. Layout fixtures are in
tests/fixtures/reports/layouts/ (invented studies, the projects' exact formats); images are
generated here with PIL. Expected values are written out by hand.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import pytest
from PIL import Image

from lingshu.core.errors import DataError
from lingshu.data.prepare import prepare_chexpert_plus, prepare_iu_xray, prepare_mimic_cxr
from lingshu.eval.benchmarks import chexpert_plus, iu_xray, mimic_cxr  # noqa: F401  (register)
from lingshu.eval.benchmarks._reports import reference_report
from lingshu.eval.benchmarks.base import BENCHMARKS

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "reports"
LAYOUTS = FIXTURES / "layouts"
NAMES = ("iu-xray", "mimic-cxr", "chexpert-plus")


def png(path: Path, value: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), value).save(path)
    return path


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_metadata(name):
    bench = BENCHMARKS.get(name)()
    assert bench.name == name and bench.modality == "multimodal"
    assert bench.splits[0] == "test"
    for text in (bench.source, bench.license, bench.split, bench.layout, bench.__doc__):
        assert text and text.strip()
    assert "lingshu data prepare" in bench.layout and "meta.json" in bench.layout


def test_reference_is_medevalkits_form():
    assert (
        reference_report("Clear lungs.", "Normal.") == "Findings: Clear lungs. Impression: Normal.."
    )
    assert reference_report("", "Normal") == "Findings:  Impression: Normal."


# ---- prepared layout, written by hand ------------------------------------------------------


def write_prepared(root: Path, records: list[dict], meta: dict | None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if meta is not None:
        (root / "meta.json").write_text(json.dumps(meta))


def test_prepared_layout_by_hand(tmp_path):
    release = tmp_path / "release"
    png(release / "a" / "front.png")
    png(release / "a" / "side.png")
    write_prepared(
        tmp_path / "data" / "mimic-cxr",
        [
            {
                "study_id": 50000001,
                "subject_id": "10000001",
                "images": ["a/front.png", "a/side.png"],
                "views": ["PA", "LATERAL"],
                "findings": "Clear  lungs.",
                "impression": "Normal.",
            },
            {
                "study_id": "50000002",
                "images": ["a/front.png"],
                "views": ["AP"],
                "findings": "Tube ok.",
                "impression": None,
                "categories": {"unit": "icu"},
            },
        ],
        {"format": "lingshu-report-studies", "dataset": "mimic-cxr", "image_root": str(release)},
    )
    samples = BENCHMARKS.get("mimic-cxr")().load(tmp_path / "data")
    assert [s.id for s in samples] == ["50000001", "50000002"]
    a, b = samples
    assert a.images == (str(release / "a/front.png"), str(release / "a/side.png"))
    assert a.sections == {"findings": "Clear lungs.", "impression": "Normal."}
    assert a.answer == "Findings: Clear lungs. Impression: Normal.."
    assert a.question == "" and a.task == "report" and a.options == {}
    assert a.categories == {"view": "PA+LATERAL"}
    assert b.sections == {"findings": "Tube ok.", "impression": ""}
    assert b.categories == {"unit": "icu", "view": "AP"}


def test_prepared_layout_without_meta_reads_images_relative_to_the_folder(tmp_path):
    root = tmp_path / "iu-xray"
    png(root / "images" / "x.png")
    write_prepared(
        root,
        [{"study_id": "CXR1", "images": ["images/x.png"], "findings": "F", "impression": "I"}],
        None,
    )
    (sample,) = BENCHMARKS.get("iu-xray")().load(tmp_path)
    assert sample.images == (str(root / "images" / "x.png"),)
    assert "view" not in sample.categories


@pytest.mark.parametrize(
    ("records", "meta", "message"),
    [
        (
            [{"study_id": "1", "images": ["gone.png"], "findings": "F", "impression": "I"}],
            {"image_root": "."},
            r"test.jsonl:1: image file not found: .*gone.png; the images moved",
        ),
        (
            [{"study_id": "1", "images": [], "findings": "F", "impression": "I"}],
            {},
            r"test.jsonl:1: 'images' must be a non-empty list",
        ),
        (
            [{"study_id": "1", "images": ["x.png"], "findings": "F"}],
            {},
            r"test.jsonl:1: missing field 'impression'",
        ),
        ([], {"dataset": "iu-xray"}, r"prepared for 'iu-xray', not 'mimic-cxr'"),
        ([], {"format": "something-else"}, r"format 'something-else' is not"),
    ],
)
def test_prepared_layout_errors(tmp_path, records, meta, message):
    png(tmp_path / "mimic-cxr" / "x.png")
    write_prepared(tmp_path / "mimic-cxr", records, meta)
    with pytest.raises(DataError, match=message) as err:
        BENCHMARKS.get("mimic-cxr")().load(tmp_path)
    assert "\n" not in str(err.value)


def test_duplicate_ids_and_empty_files_are_errors(tmp_path):
    png(tmp_path / "mimic-cxr" / "x.png")
    rec = {"study_id": "1", "images": ["x.png"], "findings": "F", "impression": "I"}
    write_prepared(tmp_path / "mimic-cxr", [rec, rec], {})
    with pytest.raises(DataError, match="study id '1' occurs more than once"):
        BENCHMARKS.get("mimic-cxr")().load(tmp_path)
    write_prepared(tmp_path / "mimic-cxr", [], {})
    with pytest.raises(DataError, match="no samples found"):
        BENCHMARKS.get("mimic-cxr")().load(tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_missing_data_says_how_to_build_it(tmp_path, name):
    (tmp_path / name).mkdir()
    with pytest.raises(DataError, match=rf"lingshu data prepare {name}"):
        BENCHMARKS.get(name)().load(tmp_path)
    with pytest.raises(DataError, match="benchmark directory not found"):
        BENCHMARKS.get(name)().load(tmp_path / "elsewhere")


# ---- ReXrank's JSON ------------------------------------------------------------------------


def test_rexrank_iu_xray_valid(tmp_path, caplog):
    root = tmp_path / "iu-xray"
    shutil.copytree(LAYOUTS / "iu-xray-rexrank", root)
    for study in ("CXR101_IM-0005", "CXR105_IM-0030"):
        png(root / "images" / study / "0.png")
        png(root / "images" / study / "1.png")
    with caplog.at_level(logging.WARNING):
        samples = BENCHMARKS.get("iu-xray")().load(tmp_path, "val")
    assert not caplog.records  # the count is only compared on the paper's split
    assert [s.id for s in samples] == ["CXR101", "CXR105"]  # same ids as `prepare iu-xray`
    a, b = samples
    assert a.images == (
        str(root / "images/CXR101_IM-0005/0.png"),
        str(root / "images/CXR101_IM-0005/1.png"),
    )
    assert a.categories == {"view": "FRONTAL+LATERAL"}
    # CXR105: the key (frontal) image 1.png goes first
    assert b.images == (
        str(root / "images/CXR105_IM-0030/1.png"),
        str(root / "images/CXR105_IM-0030/0.png"),
    )
    assert b.categories == {"view": "FRONTAL+LATERAL"}
    assert b.answer == (
        "Findings: Mild cardiomegaly. Small right pleural effusion. No pneumothorax. "
        "Impression: Cardiomegaly with small right effusion.."
    )
    with pytest.raises(DataError, match="no test.jsonl, no ReXRank_IUXray_test.json"):
        BENCHMARKS.get("iu-xray")().load(tmp_path, "test")


def test_rexrank_mimic_cxr_with_nan_sections(tmp_path):
    root = tmp_path / "mimic-cxr"
    shutil.copytree(LAYOUTS / "mimic-cxr-rexrank", root)
    data = json.loads((root / "ReXRank_MIMICCXR_test.json").read_text())
    for entry in data.values():
        for p in entry["image_path"]:
            if "s50000010" not in p:  # skipped (both sections NaN) before its images are read
                png(root / "files" / p.lstrip("/"))
    samples = BENCHMARKS.get("mimic-cxr")().load(tmp_path)
    assert [s.id for s in samples] == ["50000001", "50000011"]
    a, b = samples
    assert Path(a.images[0]).name.startswith("0000000b") and a.categories == {"view": "PA+LATERAL"}
    assert a.sections["findings"] == (
        "The lungs are clear without focal consolidation. No pleural effusion or pneumothorax "
        "is seen."
    )
    assert b.sections == {"findings": "Heart size is normal. Lungs are clear.", "impression": ""}
    assert b.answer == "Findings: Heart size is normal. Lungs are clear. Impression: ."
    (root / "files" / "p10").rename(root / "elsewhere")
    with pytest.raises(DataError, match=r"50000001: image /p10/p10000001/.* not found under"):
        BENCHMARKS.get("mimic-cxr")().load(tmp_path)


# ---- MedEvalKit's test.json ----------------------------------------------------------------


def test_medevalkit_test_json(tmp_path, caplog):
    root = tmp_path / "iu-xray"
    shutil.copytree(LAYOUTS / "iu-xray-medevalkit", root)
    for name in ("CXR101_IM-0005-1001.png", "CXR101_IM-0005-2001.png", "CXR105_IM-0030-3001.png"):
        png(root / "images" / name)
    with caplog.at_level(logging.WARNING):
        samples = BENCHMARKS.get("iu-xray")().load(tmp_path)
    assert "loaded 2 samples, the paper's" in caplog.text and "296" in caplog.text
    assert [s.id for s in samples] == ["CXR101", "CXR105"]  # the empty row is skipped
    assert samples[0].images == (
        str(root / "images/CXR101_IM-0005-1001.png"),
        str(root / "images/CXR101_IM-0005-2001.png"),
    )
    assert samples[1].images == (str(root / "images/CXR105_IM-0030-3001.png"),)
    assert samples[1].answer == (
        "Findings: Mild cardiomegaly. Small right pleural effusion. No pneumothorax. Impression: ."
    )
    (root / "images" / "CXR105_IM-0030-3001.png").unlink()
    with pytest.raises(DataError, match=r"test.json: row 2: image file not found"):
        BENCHMARKS.get("iu-xray")().load(tmp_path)


def test_medevalkit_rows_without_derivable_ids_use_row_numbers(tmp_path):
    root = tmp_path / "chexpert-plus"
    png(root / "images" / "a.png")
    (root / "test.json").write_text(
        json.dumps([{"image": "a.png", "findings": "F", "impression": "I"}] * 2)
    )
    samples = BENCHMARKS.get("chexpert-plus")().load(tmp_path)
    assert [s.id for s in samples] == ["row-0", "row-1"]


# ---- `lingshu data prepare` end to end, then the benchmark ----------------------------------


def release_images_for_mimic(root: Path) -> None:
    with (root / "mimic-cxr-2.0.0-metadata.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            s, st, d = row["subject_id"], row["study_id"], row["dicom_id"]
            if st not in ("50000007", "50000009"):  # image_missing; DICOM-only (not written)
                png(root / "files" / f"p{s[:2]}" / f"p{s}" / f"s{st}" / f"{d}.jpg")


def test_prepare_then_load_every_benchmark(tmp_path):
    data = tmp_path / "data"
    mimic = tmp_path / "mimic"
    shutil.copytree(FIXTURES / "mimic-cxr", mimic)
    release_images_for_mimic(mimic)
    summary = prepare_mimic_cxr(mimic, data / "mimic-cxr")
    assert summary.kept == 3
    assert summary.dropped["image_missing"] == 2  # s50000007 and the DICOM-less s50000009
    chex = tmp_path / "chex"
    shutil.copytree(FIXTURES / "chexpert-plus", chex)
    with (chex / "df_chexpert_plus_240401.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            png(chex / row["path_to_image"])  # every image, at the JPG paths the table gives
    prepare_chexpert_plus(chex, data / "chexpert-plus")
    iu_png = tmp_path / "iu_png"
    for n, ids in {101: ("0005-1001", "0005-2001"), 105: ("0030-4001", "0030-3001")}.items():
        for i in ids:
            png(iu_png / f"CXR{n}_IM-{i}.png")
    prepare_iu_xray(
        FIXTURES / "iu-xray" / "ecgen-radiology",
        iu_png,
        data / "iu-xray",
        split_file=LAYOUTS / "iu-xray-rexrank" / "ReXRank_IUXray_valid.json",
    )
    loaded = {name: BENCHMARKS.get(name)().load(data) for name in NAMES}
    assert [s.id for s in loaded["mimic-cxr"]] == ["50000001", "50000002", "50000011"]
    assert [s.id for s in loaded["chexpert-plus"]] == [
        "patient64541_study1",
        "patient64542_study1",
        "patient64545_study1",
        "patient64546_study1",
        "patient64548_study1",
    ]
    assert loaded["chexpert-plus"][0].images == (
        str(chex / "valid/patient64541/study1/view1_frontal.jpg"),
        str(chex / "valid/patient64541/study1/view2_lateral.jpg"),
    )
    assert [s.id for s in loaded["iu-xray"]] == ["CXR101", "CXR105"]
    assert loaded["iu-xray"][1].images == (
        str(iu_png / "CXR105_IM-0030-4001.png"),
        str(iu_png / "CXR105_IM-0030-3001.png"),
    )
    for samples in loaded.values():
        for s in samples:
            assert s.task == "report"
            assert s.answer == reference_report(s.sections["findings"], s.sections["impression"])
            assert all(Path(p).is_absolute() and Path(p).is_file() for p in s.images)
