"""``prepare iu-xray``: on the fixture XML (expected outcome by hand in
tests/fixtures/reports/iu-xray/README.md) and on the 3,955 real Open-i reports that ship in
the torchxrayvision package (read in place, never imported; expected values recomputed here
from the raw XML with regular expressions, independently of the module's ElementTree code).
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import re
import tarfile
from pathlib import Path

import pytest
from report_releases import FIXTURES, write_image

from lingshu.core.errors import DataError
from lingshu.core.io import read_jsonl
from lingshu.data.prepare import prepare_iu_xray, read_iu_reports
from lingshu.data.prepare.iu_xray import image_key
from lingshu.eval.benchmarks import iu_xray  # noqa: F401  (registers "iu-xray")
from lingshu.eval.benchmarks.base import BENCHMARKS

PROJECTIONS = FIXTURES / "iu-xray" / "indiana_projections.csv"
REXRANK_VALID = FIXTURES / "layouts" / "iu-xray-rexrank" / "ReXRank_IUXray_valid.json"


def ids(path: Path) -> list[str]:
    return [r["study_id"] for r in read_jsonl(path)]


# ---- fixture release ----------------------------------------------------------------------


def test_all_reports_default_rules(iu_release, tmp_path):
    reports, png = iu_release
    out = tmp_path / "iu-xray"
    summary = prepare_iu_xray(reports, png, out, split="all")
    assert summary.kept == 2
    assert summary.dropped == {
        "missing_findings": 1,
        "no_images": 1,
        "image_missing": 1,
        "no_findings_or_impression": 1,
    }
    records = {r["study_id"]: r for r in read_jsonl(out / "all.jsonl")}
    assert list(records) == ["CXR101", "CXR105"]
    assert records["CXR101"]["images"] == ["CXR101_IM-0005-1001.png", "CXR101_IM-0005-2001.png"]
    assert records["CXR101"]["findings"] == (
        "The heart is normal in size. The mediastinum is unremarkable. The lungs are clear."
    )
    assert records["CXR101"]["categories"] == {"mesh": "normal"}
    assert records["CXR105"]["images"] == ["CXR105_IM-0030-4001.png", "CXR105_IM-0030-3001.png"]
    assert records["CXR105"]["categories"] == {"mesh": "abnormal"}
    assert records["CXR105"]["indication"] == "Shortness of breath"
    samples = BENCHMARKS.get("iu-xray")().load(tmp_path, "all")
    assert [s.id for s in samples] == ["CXR101", "CXR105"]
    assert samples[0].images == (
        str(png / "CXR101_IM-0005-1001.png"),
        str(png / "CXR101_IM-0005-2001.png"),
    )
    assert samples[1].answer == (
        "Findings: Mild cardiomegaly. Small right pleural effusion. No pneumothorax. "
        "Impression: Cardiomegaly with small right effusion.."
    )
    assert samples[1].categories == {"mesh": "abnormal"}  # no view labels without projections


def test_projections_put_the_frontal_image_first(iu_release, tmp_path):
    reports, png = iu_release
    out = tmp_path / "iu-xray"
    summary = prepare_iu_xray(reports, png, out, split="all", projections=PROJECTIONS)
    assert summary.dropped == {
        "missing_findings": 1,
        "no_images": 1,
        "no_findings_or_impression": 1,
    }
    records = {r["study_id"]: r for r in read_jsonl(out / "all.jsonl")}
    assert records["CXR105"]["image_ids"] == ["CXR105_IM-0030-3001", "CXR105_IM-0030-4001"]
    assert records["CXR105"]["views"] == ["FRONTAL", "LATERAL"]
    # CXR104's missing third image is a second lateral, not needed any more
    assert records["CXR104"]["image_ids"] == ["CXR104_IM-0020-1001", "CXR104_IM-0020-2001"]
    sample = {s.id: s for s in BENCHMARKS.get("iu-xray")().load(tmp_path, "all")}["CXR105"]
    assert sample.images[0].endswith("CXR105_IM-0030-3001.png")
    assert sample.categories == {"mesh": "abnormal", "view": "FRONTAL+LATERAL"}
    prepare_iu_xray(reports, png, out, split="all", projections=PROJECTIONS, lateral=False)
    assert [r["views"] for r in read_jsonl(out / "all.jsonl")] == [["FRONTAL"]] * 3


def test_keep_missing_findings(iu_release, tmp_path):
    reports, png = iu_release
    prepare_iu_xray(reports, png, tmp_path / "o", split="all", keep_missing_findings=True)
    records = {r["study_id"]: r for r in read_jsonl(tmp_path / "o" / "all.jsonl")}
    assert list(records) == ["CXR101", "CXR102", "CXR105"]
    assert records["CXR102"]["findings"] == ""
    assert records["CXR102"]["impression"] == "No active disease."


def test_split_files(iu_release, tmp_path):
    reports, png = iu_release
    # ReXrank JSON: its keys, whatever --split says; written as <split>.jsonl
    prepare_iu_xray(reports, png, tmp_path / "a", split_file=REXRANK_VALID)
    assert ids(tmp_path / "a" / "test.jsonl") == ["CXR101", "CXR105"]
    # R2Gen annotation.json: the part named by --split
    r2gen = tmp_path / "annotation.json"
    r2gen.write_text(
        json.dumps(
            {
                "train": [{"id": "CXR102_IM-0010", "image_path": ["CXR102_IM-0010/0.png"]}],
                "val": [{"id": "CXR104_IM-0020", "image_path": ["CXR104_IM-0020/0.png"]}],
                "test": [{"id": "CXR101_IM-0005"}, {"id": "CXR105_IM-0030"}],
            }
        )
    )
    prepare_iu_xray(reports, png, tmp_path / "b", split="test", split_file=r2gen)
    assert ids(tmp_path / "b" / "test.jsonl") == ["CXR101", "CXR105"]
    summary = prepare_iu_xray(reports, png, tmp_path / "b", split="val", split_file=r2gen)
    assert summary.kept == 0 and summary.dropped == {"image_missing": 1}
    # a plain list of ids
    listing = tmp_path / "ids.txt"
    listing.write_text("CXR101\nCXR106\n")
    summary = prepare_iu_xray(reports, png, tmp_path / "c", split_file=listing)
    assert summary.kept == 1 and summary.dropped == {"no_findings_or_impression": 1}
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    assert meta["rules"]["split"].startswith("ids listed in ids.txt")
    listing.write_text("CXR101\nCXR999\n")
    with pytest.raises(DataError, match=r"1 listed ids have no report .* \(e.g. CXR999\)"):
        prepare_iu_xray(reports, png, tmp_path / "d", split_file=listing)


def test_hash_split_partitions_the_reports(iu_release, tmp_path):
    reports, png = iu_release
    seen: list[str] = []
    for split, buckets in (("train", range(7)), ("val", (7,)), ("test", (8, 9))):
        prepare_iu_xray(reports, png, tmp_path / split, split=split, keep_missing_findings=True)
        meta = json.loads((tmp_path / split / "meta.json").read_text())
        expected = [
            n
            for n in range(101, 107)
            if int(hashlib.sha256(f"iu-xray:{n}".encode()).hexdigest(), 16) % 10 in buckets
        ]
        assert meta["counts"]["reports_in_split"] == len(expected)
        seen += [f"CXR{n}" for n in expected]
    assert sorted(seen) == [f"CXR{n}" for n in range(101, 107)]


def test_copy_images(iu_release, tmp_path):
    reports, png = iu_release
    out = tmp_path / "iu-xray"
    prepare_iu_xray(reports, png, out, split="all", copy_images=True)
    assert json.loads((out / "meta.json").read_text())["image_root"] == "images"
    assert (out / "images" / "CXR101_IM-0005-1001.png").read_bytes() == (
        png / "CXR101_IM-0005-1001.png"
    ).read_bytes()
    samples = BENCHMARKS.get("iu-xray")().load(tmp_path, "all")
    assert samples[0].images[0] == str(out / "images" / "CXR101_IM-0005-1001.png")


def test_kaggle_image_names_are_matched(iu_release, tmp_path):
    reports, png = iu_release
    kaggle = tmp_path / "images" / "images_normalized"
    kaggle.mkdir(parents=True)
    for p in png.glob("*.png"):
        p.rename(kaggle / (image_key(p.name) + ".dcm.png"))
    summary = prepare_iu_xray(reports, tmp_path / "images", tmp_path / "o", split="all")
    assert summary.kept == 2


def test_image_key():
    assert image_key("CXR1_1_IM-0001-3001") == "1_IM-0001-3001"
    assert image_key("CXR1_1_IM-0001-3001.png") == "1_IM-0001-3001"
    assert image_key("1_IM-0001-3001.dcm.png") == "1_IM-0001-3001"
    assert image_key("CXR2199_IM-0809-0001-0002") == "2199_IM-0809-0001-0002"


def test_bad_input(iu_release, tmp_path):
    reports, png = iu_release
    with pytest.raises(DataError, match="--reports not found"):
        prepare_iu_xray(tmp_path / "none.tgz", png, tmp_path / "o")
    archive = tmp_path / "NLMCXR_png.tgz"
    archive.write_bytes(b"x")
    with pytest.raises(DataError, match="it is a file: extract it first"):
        prepare_iu_xray(reports, archive, tmp_path / "o")
    broken = tmp_path / "xml"
    broken.mkdir()
    (broken / "7.xml").write_text("<eCitation><uId id='CXR7'/>")
    with pytest.raises(DataError, match="7.xml: not valid XML"):
        prepare_iu_xray(broken, png, tmp_path / "o")
    (broken / "7.xml").unlink()
    with pytest.raises(DataError, match="no report XML files found"):
        prepare_iu_xray(broken, png, tmp_path / "o")


# ---- the real Open-i reports shipped by torchxrayvision ------------------------------------


def nlmcxr_tgz() -> Path:
    spec = importlib.util.find_spec("torchxrayvision")  # finds, does not import
    assert spec is not None and spec.submodule_search_locations, "torchxrayvision not installed"
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "NLMCXR_reports.tgz"


def raw_reports() -> dict[int, dict]:
    """The reports' sections and image ids by regular expressions on the raw XML text."""

    def section(text: str, label: str) -> str:
        m = re.search(rf'<AbstractText Label="{label}">(.*?)</AbstractText>', text, re.S)
        return " ".join(html.unescape(m.group(1)).split()) if m else ""

    out: dict[int, dict] = {}
    with tarfile.open(nlmcxr_tgz()) as tf:
        for member in tf:
            if not member.name.endswith(".xml"):
                continue
            text = tf.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
            number = int(re.search(r'<uId id="CXR(\d+)"', text).group(1))  # type: ignore[union-attr]
            out[number] = {
                "findings": section(text, "FINDINGS"),
                "impression": section(text, "IMPRESSION"),
                "images": re.findall(r'<parentImage id="([^"]+)"', text),
            }
    return out


@pytest.fixture(scope="module")
def real() -> dict[int, dict]:
    return raw_reports()


def test_real_reports_are_parsed_exactly(real):
    parsed = read_iu_reports(nlmcxr_tgz())
    assert len(parsed) == len(real) == 3955
    assert sum(1 for r in real.values() if r["findings"]) == 3425
    assert sum(1 for r in real.values() if r["impression"]) == 3921
    for report in parsed:
        expected = real[report.number]
        assert report.uid == f"CXR{report.number}"
        assert report.findings == expected["findings"], report.uid
        assert report.impression == expected["impression"], report.uid
        assert report.image_ids == expected["images"], report.uid


def test_prepare_real_reports_with_generated_images(real, tmp_path):
    chosen = [n for n in sorted(real) if real[n]["findings"] and real[n]["images"]][:5]
    png = tmp_path / "png"
    for n in chosen:
        for image_id in real[n]["images"]:
            write_image(png / f"{image_id}.png", n % 200)
    out = tmp_path / "iu-xray"
    summary = prepare_iu_xray(nlmcxr_tgz(), png, out, split="all")
    with_images = [r for r in real.values() if r["images"]]
    assert summary.kept == 5
    assert summary.dropped == {
        "no_images": sum(1 for r in real.values() if not r["images"]),
        "no_findings_or_impression": sum(
            1 for r in with_images if not r["findings"] and not r["impression"]
        ),
        "missing_findings": sum(1 for r in with_images if not r["findings"] and r["impression"]),
        "image_missing": sum(1 for r in with_images if r["findings"]) - 5,
    }
    samples = BENCHMARKS.get("iu-xray")().load(tmp_path, "all")
    assert [s.id for s in samples] == [f"CXR{n}" for n in chosen]
    for s, n in zip(samples, chosen, strict=True):
        assert s.images == tuple(str(png / f"{i}.png") for i in real[n]["images"])
        assert s.sections == {"findings": real[n]["findings"], "impression": real[n]["impression"]}
        assert s.answer == (f"Findings: {real[n]['findings']} Impression: {real[n]['impression']}.")


def test_hash_split_of_the_real_reports(real, tmp_path):
    counts = {}
    for split in ("train", "val", "test"):
        summary = prepare_iu_xray(nlmcxr_tgz(), tmp_path, tmp_path / split, split=split)
        counts[split] = summary.notes["reports_in_split"]
    buckets = [int(hashlib.sha256(f"iu-xray:{n}".encode()).hexdigest(), 16) % 10 for n in real]
    assert counts == {
        "train": sum(b < 7 for b in buckets),
        "val": sum(b == 7 for b in buckets),
        "test": sum(b >= 8 for b in buckets),
    }
    assert sum(counts.values()) == 3955
