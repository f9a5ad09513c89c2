"""The ``lingshu-demo`` evaluation set and the demo's raw-data split.

Expected values come from the source files themselves (the VQA-RAD release JSON and the
SLAKE test JSON, read here with ``json``), not from the builder's code paths: held-out
images must be whole MedPix cases, every SLAKE (test) image is held out, no held-out image
is a training image, labels match the release's own, and options are the full label space
in a shuffled order.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks import get_benchmark

REPO = Path(__file__).resolve().parents[3]
BUNDLED = REPO / "data" / "benchmarks"
MANIFEST = REPO / "data" / "demo" / "images.jsonl"


def _manifest() -> list[dict]:
    return [json.loads(line) for line in MANIFEST.read_text().splitlines()]


def test_loads_with_three_shuffled_options():
    samples = get_benchmark("lingshu-demo").load(BUNDLED)
    assert len(samples) == 155
    assert Counter(s.categories["question"] for s in samples) == {"organ": 98, "modality": 57}
    assert not any(s.refused for s in samples)  # images in the declared sibling folders only
    for s in samples:
        assert s.task == "mcq" and set(s.options) == {"A", "B", "C"}
        assert s.answer in s.options and Path(s.images[0]).is_file()
        space = {"head", "chest", "abdomen"} if s.categories["question"] == "organ" else {"CT", "MRI", "X-ray"}
        assert set(s.options.values()) == space
    # shuffled: the gold letter is not always the same, nor the option order
    assert len({s.answer for s in samples}) == 3
    assert len({tuple(s.options.values()) for s in samples}) > 3


def test_gold_labels_match_the_releases():
    vqa = json.loads(next((BUNDLED / "vqa-rad").glob("VQA_RAD Dataset Public*.json")).read_text())
    organ_of = {r["image_name"]: {"HEAD": "head", "CHEST": "chest", "ABD": "abdomen"}[r["image_organ"]] for r in vqa}
    slake = json.loads((BUNDLED / "slake" / "test.sample40images.json").read_text())
    slake_mod = {r["img_name"]: r["modality"].replace("X-Ray", "X-ray") for r in slake}
    checked = 0
    for s in get_benchmark("lingshu-demo").load(BUNDLED):
        gold = s.options[s.answer]
        img = Path(s.images[0])
        if img.parent.name == "VQA_RAD Image Folder" and s.categories["question"] == "organ":
            assert gold == organ_of[img.name]
            checked += 1
        if "slake" in img.parts and s.categories["question"] == "modality":
            assert gold == slake_mod[f"{img.parent.name}/{img.name}"]
            checked += 1
    assert checked == 61 + 40


def test_split_is_by_case_and_never_leaks():
    rows = _manifest()
    vqa = json.loads(next((BUNDLED / "vqa-rad").glob("VQA_RAD Dataset Public*.json")).read_text())
    case_of = {r["image_name"]: r["image_case_url"] for r in vqa}
    split_of_case: dict[str, set[str]] = {}
    for r in rows:
        if r["source"] == "vqa-rad":
            split_of_case.setdefault(case_of[Path(r["path"]).name], set()).add(r["split"])
        if r["source"] == "slake":
            assert r["split"] == "heldout"  # SLAKE test images never train
    assert all(len(s) == 1 for s in split_of_case.values())
    groups: dict[str, set[str]] = {}
    for r in rows:
        groups.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in groups.values())  # volumes and cases never straddle
    train = {(MANIFEST.parent / r["path"]).resolve() for r in rows if r["split"] == "train" and "path" in r}
    evaluated = {Path(s.images[0]).resolve() for s in get_benchmark("lingshu-demo").load(BUNDLED)}
    assert evaluated and not (train & evaluated)
    heldout = Counter(r["source"] for r in rows if r["split"] == "heldout")
    assert heldout == {"vqa-rad": 61, "slake": 40}


def _builder():
    """scripts/build_demo_bundle.py as a module (a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bdb", REPO / "scripts" / "build_demo_bundle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _qa(question, answer, kind="OPEN", qtype="MODALITY"):
    """One VQA-RAD row as the builder reads it."""
    return {"question": question, "answer": answer, "answer_type": kind, "question_type": qtype}


def test_builder_is_deterministic(tmp_path, monkeypatch):
    mod = _builder()
    manifest = mod.build_manifest()
    assert manifest == _manifest()
    items = mod.build_eval(manifest)
    assert items == [json.loads(x) for x in (BUNDLED / "lingshu-demo" / "test.jsonl").read_text().splitlines()]


def test_a_negated_modality_question_names_what_the_image_is_not():
    mod, row = _builder(), _qa

    # synpic28602, a chest X-ray: VQA-RAD's only modality question about it is negated
    assert mod.vqa_rad_modality([row("What type of imaging does this not represent?", "ultrasound")]) is None
    assert mod.vqa_rad_modality([row("Which modality isn't used here?", "MRI"),
                                 row("What imaging modality is this?", "Plain film x-ray")]) == "X-ray"
    assert mod.vqa_rad_modality([row("What type of imaging is this?", "ultrasound")]) == "ultrasound"
    manifest = {r["id"]: r for r in _manifest()}
    assert manifest["vqa-rad/synpic28602"]["modality"] is None


def test_silver_modality_labels_only_train_images_and_agree_with_the_strict_rule():
    mod = _builder()

    def row(q, a, kind="OPEN"):
        return _qa(q, a, kind, qtype="PRES")

    # hand-read VQA-RAD questions: density is CT's word, intensity MRI's, a PA view a plain film's
    assert mod.silver_modality([row("What are these hypodensities in the liver?", "Fat accumulations")]) == "CT"
    assert mod.silver_modality([row("Describe the intensity?", "hyperintense rim")]) == "MRI"
    assert mod.silver_modality([row("In what plane is the above taken?", "PA")]) == "X-ray"
    assert mod.silver_modality([row("Is this a CT?", "no", "CLOSED")]) is None  # a guess, not a fact
    assert mod.silver_modality([row("Is this not an MRI?", "yes", "CLOSED")]) is None
    assert mod.silver_modality([row("What kind of scan is this?", "CT"),
                                row("What causes hyper intensity in aorta?", "calcification")]) is None
    rows = json.loads(next((REPO / "data/benchmarks/vqa-rad").glob("VQA_RAD*.json")).read_text())
    by_image: dict[str, list] = {}
    for r in rows:
        by_image.setdefault(r["image_name"], []).append(r)
    pairs = [(mod.vqa_rad_modality(rs), mod.silver_modality(rs)) for rs in by_image.values()]
    both = [(a, b) for a, b in pairs if a and b]
    assert len(both) == 73 and all(a == b for a, b in both)
    silver = [r for r in _manifest() if r.get("modality_label") == "silver"]
    assert len(silver) == 16 and {r["split"] for r in silver} == {"train"}
    assert Counter(r["modality"] for r in silver) == {"CT": 10, "MRI": 4, "X-ray": 2}


def test_bad_row_names_file_and_line(tmp_path):
    root = tmp_path / "lingshu-demo"
    root.mkdir()
    (root / "test.jsonl").write_text(json.dumps({"id": "x", "question": "q", "options": {"A": "a"},
                                                 "answer": "B", "image": "i.png", "category": "organ"}) + "\n")
    with pytest.raises(DataError, match=r"test.jsonl:1: field 'answer'"):
        get_benchmark("lingshu-demo").load(tmp_path)


def test_an_image_outside_the_declared_folders_is_refused(tmp_path):
    root = tmp_path / "lingshu-demo"
    root.mkdir()
    outside = tmp_path.parent / "outside.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(outside)
    (root / "test.jsonl").write_text(json.dumps({"id": "x", "question": "q", "options": {"A": "a", "B": "b"},
                                                 "answer": "A", "image": str(outside), "category": "organ"}) + "\n")
    (sample,) = get_benchmark("lingshu-demo").load(tmp_path)
    assert sample.refused and not sample.images
