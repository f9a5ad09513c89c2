"""Decontamination checks what is evaluated: planted copies of evaluation-split items
(images: exact, JPEG, resized, brightened; text: verbatim and lightly edited) are removed
and named; benchmark train-split items and freshly written questions are kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import decontam_text_cases as cases
import pytest
from curation_helpers import BENCH, RAD_IMAGES
from PIL import Image, ImageEnhance

from lingshu.data.curate.ops import OPS
from lingshu.data.curate.record import Record, conversation


def op(data_dir=BENCH, **params):
    cls = OPS.get("decontaminate")
    o = cls(cls.Params(data_dir=str(data_dir), **params))
    o.setup()
    return o


def rec(rid, q, a="x", images=()):
    return Record(id=rid, source="train", messages=conversation(q, a, [str(p) for p in images]))


@pytest.fixture(scope="module")
def rad_split(tmp_path_factory) -> tuple[Path, dict[str, str], list[str]]:
    """A VQA-RAD copy whose rows on 10 images are its test split, the others train:
    (data dir, test image -> a test qid on it, train image names)."""
    rows = json.loads((BENCH / "vqa-rad" / "VQA_RAD Dataset Public (train rows only).json")
                      .read_text())
    names = sorted({r["image_name"] for r in rows})
    test = set(names[::len(names) // 10][:10])
    for r in rows:
        if r["image_name"] in test:
            r["phrase_type"] = "test_freeform"
    d = tmp_path_factory.mktemp("bench")
    (d / "vqa-rad").mkdir()
    (d / "vqa-rad" / "VQA_RAD Dataset Public.json").write_text(json.dumps(rows))
    # copied, not linked: a folder link leading outside the benchmark folder is refused
    shutil.copytree(RAD_IMAGES, d / "vqa-rad" / "VQA_RAD Image Folder")
    first = {}
    for r in rows:
        if r["image_name"] in test:
            first.setdefault(r["image_name"], {})[str(r["qid"])] = True
    return d, {k: sorted(v) for k, v in first.items()}, sorted(set(names) - test)


def _copies(src: Path, out: Path) -> dict[str, Path]:
    im = Image.open(src).convert("RGB")
    stem = src.stem
    made = {"exact": out / f"{stem}-exact.png", "jpeg75": out / f"{stem}-q75.jpg",
            "resized": out / f"{stem}-small.jpg", "brighter": out / f"{stem}-bright.png"}
    im.save(made["exact"])
    im.save(made["jpeg75"], quality=75)
    im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(made["resized"], quality=90)
    ImageEnhance.Brightness(im).enhance(1.10).save(made["brighter"])
    return made


def test_train_split_images_kept_test_split_copies_removed(rad_split, tmp_path):
    data_dir, test_qids, train_names = rad_split
    planted_train = [rec(f"train-{n}", "Describe.", images=[RAD_IMAGES / n])
                     for n in train_names[:60]]
    planted_test = [rec(f"test-{src}-{kind}", "Describe.", images=[p])
                    for src in sorted(test_qids)
                    for kind, p in _copies(RAD_IMAGES / src, tmp_path).items()]
    kept, dropped = op(data_dir, benchmarks=["vqa-rad"]).apply(planted_train + planted_test)
    # default: only the evaluation split (test) is checked, with near matching (4 bits)
    assert [r.id for r in kept] == [r.id for r in planted_train]  # 60 of 60 kept
    assert len(dropped) == 40  # 10 test images x 4 kinds of copy, all removed
    for d in dropped:
        s = d["statistic"]
        src = d["id"].split("-", 1)[1].rsplit("-", 1)[0]
        assert (s["benchmark"], s["split"], s["kind"]) == ("vqa-rad", "test", "image")
        assert s["item"] in test_qids[src] and s["distance"] <= 4
        assert d["reason"] == f"image matches vqa-rad test item {s['item']}"
    # the paper's Hamming 0 (its dedup setting) lets re-encoded copies through
    _, exact_only = op(data_dir, benchmarks=["vqa-rad"], image_threshold=0).apply(planted_test)
    missed = [r.id for r in planted_test if r.id not in {d["id"] for d in exact_only}]
    assert missed and not any(m.endswith("-exact") for m in missed), missed
    # widening to the train split removes the train copies too, naming that split
    _, wide = op(data_dir, benchmarks=["vqa-rad"],
                 splits={"vqa-rad": ["test", "train"]}).apply(planted_train)
    assert len(wide) == 60 and {d["statistic"]["split"] for d in wide} == {"train"}


def test_evaluation_splits_by_default_and_all_on_request():
    loaded = op().index.loaded
    # the bundled VQA-RAD holds only train rows, MMLU-Med only val/dev and PubMedQA no
    # test ground truth: their evaluation split (test) is absent, so nothing is indexed
    assert sorted(loaded) == ["lingshu-demo/test", "medmcqa/validation", "medqa-usmle/test",
                              "slake/test"]
    wide = op(splits="all").index.loaded
    assert {"vqa-rad/train", "mmlu-med/val", "mmlu-med/dev", "pubmedqa/all"} <= set(wide)


def test_fresh_questions_kept_copies_and_light_edits_removed():
    m = cases.measure()
    assert m["fresh_removed"] == "0/26"
    assert m["copies_removed"] == {
        "verbatim": "100/100", "numbers changed": "100/100",
        "reworded opener, no options": "100/100",
        "one sentence dropped, options reordered": "100/100",
        "lower case, no punctuation": "99/100"}
    # the earlier setting (8-grams across the joined prompt, every split) removed 15 of
    # the 26 fresh questions on boilerplate such as "which of the following is the most"
    old = cases.measure(ngram=8, max_items_per_ngram=10**9, splits="all")
    assert old["fresh_removed"] == "15/26"


def test_boilerplate_ngrams_are_never_matched(tmp_path):
    """An n-gram in more than max_items_per_ngram items is boilerplate (NeMo Curator's
    rule); an item's own 13-gram still matches, as does a copy of a long gold answer."""
    plate = ("read the following clinical vignette carefully and then choose the single best "
             "answer from the options")
    long_answer = ("start intravenous fluids and broad spectrum antibiotics within the first "
                   "hour of arrival at the hospital")
    rows = [{"question": f"{plate}. Case {i}: a patient number {i} with finding {i * 7} and "
                         f"symptom {i * 13} needs care.",
             "answer": long_answer if i == 0 else f"option {i}",
             "options": {"A": long_answer if i == 0 else f"option {i}", "B": "none",
                         "C": "both", "D": "either"},
             "answer_idx": "A", "meta_info": "step1"} for i in range(12)]
    (tmp_path / "medqa-usmle").mkdir()
    (tmp_path / "medqa-usmle" / "phrases_no_exclude_test.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    fresh = rec("fresh", f"Please {plate}. A new case about asthma in a child of 9 years.")
    own = rec("own", "Case 3: a patient number 3 with finding 21 and symptom 39 needs care.")
    answer = rec("answer", "What now?", a="We " + long_answer + ".")
    kept, dropped = op(tmp_path).apply([fresh, own, answer])
    assert [r.id for r in kept] == ["fresh"]  # the plate is in 12 items (> 10): ignored
    by = {d["id"]: d["statistic"] for d in dropped}
    assert (by["own"]["kind"], by["own"]["item"]) == ("question", "test-3")
    # the gold option is part of the item, so the answer's copy matches it (as the item's
    # text, which is checked first)
    assert by["answer"]["item"] == "test-0" and by["answer"]["ngram"] in long_answer
    # the plate's 16 words hold 4 13-grams, and one more runs on into "Case" (in all 12)
    assert op(tmp_path).index.ignored_ngrams == 5
    _, dropped = op(tmp_path, max_items_per_ngram=12).apply([fresh])
    assert dropped and dropped[0]["statistic"]["ngram"] in plate
