"""Modality labels: DICOM metadata, the offline fallback classifier, BiomedCLIP missing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from curation_helpers import BENCH, RAD_IMAGES

from lingshu.data.curate.ops import OPS
from lingshu.data.curate.ops.modality import DICOM_MODALITY, MODALITIES, FallbackClassifier
from lingshu.data.curate.record import Record, conversation


def op(**params):
    cls = OPS.get("modality_label")
    o = cls(cls.Params(**params))
    o.setup()
    return o


def test_label_set_covers_the_papers_modalities():
    assert len(MODALITIES) >= 12
    assert set(DICOM_MODALITY.values()) <= set(MODALITIES)


def test_dicom_metadata_first(tmp_path):
    r = Record(id="a", source="s", messages=conversation("q", "a", ["/nonexistent.png"]),
               meta={"dicom": {"Modality": "MR"}})
    [out], _ = op().apply([r])
    assert out.modality == "MRI" and out.stats["modality_label"]["method"] == "dicom"


def test_missing_biomedclip_is_one_warning_then_fallback(caplog):
    with caplog.at_level(logging.WARNING):
        o = op(biomedclip_weights="/no/such/dir")
    lines = [r.getMessage() for r in caplog.records if "BiomedCLIP" in r.getMessage()]
    assert len(lines) == 1 and "offline fallback" in lines[0]
    assert isinstance(o.model, FallbackClassifier)


def test_fallback_on_held_out_vqa_rad_images():
    """VQA-RAD images (not used in training) whose modality question has a clear answer."""
    rows = json.loads((BENCH / "vqa-rad" / "VQA_RAD Dataset Public (train rows only).json")
                      .read_text())
    labels = {"ct": "CT", "mri": "MRI", "x-ray": "X-ray", "chest x-ray": "X-ray"}
    truth = {}
    for r in rows:
        a = str(r["answer"]).strip().lower()
        if "MODALITY" in r["question_type"] and a in labels:
            truth.setdefault(r["image_name"], labels[a])
    o = op(method="fallback")
    recs = [Record(id=k, source="s", messages=conversation("q", "a", [str(RAD_IMAGES / k)]))
            for k in sorted(truth)]
    out, _ = o.apply(recs)
    acc = sum(r.modality == truth[r.id] for r in out) / len(out)
    assert len(out) >= 15 and acc >= 0.75, acc
    meta = json.loads((Path(__file__).parents[3] / "src/lingshu/data/curate/"
                       "modality_fallback.json").read_text())
    assert meta["heldout_vqa_rad"]["accuracy"] >= 0.75


def test_given_labels_are_kept_unless_overwrite():
    r = Record(id="a", source="s", modality="CT",
               messages=conversation("q", "a", [str(sorted(RAD_IMAGES.glob("*.jpg"))[0])]))
    [out], _ = op().apply([r])
    assert out.modality == "CT" and out.stats["modality_label"]["method"] == "given"
