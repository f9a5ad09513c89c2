"""Build the demo's raw-data manifest and the ``lingshu-demo`` evaluation set.

Run from the repository root (deterministic: rerunning rewrites identical files)::

    python scripts/build_demo_bundle.py

Reads only files already in the repository (``data/benchmarks/vqa-rad``, ``data/benchmarks/slake``)
and the sample files that pydicom, nibabel and scikit-image install; writes

- ``data/demo/images.jsonl``: one row per raw image with its labels, the group it belongs to
  (patient case, volume) and its split (``train`` or ``heldout``); images are referenced,
  never copied (``path`` relative to ``data/demo/``, or ``package`` + ``file`` for the
  samples read from installed packages at run time);
- ``data/benchmarks/lingshu-demo/test.jsonl``: multiple-choice organ and modality questions
  on the held-out images, options shuffled per question.

Split (why): VQA-RAD images come from MedPix cases (``image_case_url``, one patient each),
so the split is drawn per case: about 20% of cases, by a hash of the case id, are held out
with all their images. All SLAKE images here belong to SLAKE's *test* split, so none may
train a model (that would contaminate the SLAKE benchmark): every one is held out. Package
samples (DICOM, NIfTI slices, fundus, histology) are training-only; NIfTI slices share their
volume's group, so a volume never straddles the split.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "data" / "benchmarks"
OUT_MANIFEST = ROOT / "data" / "demo" / "images.jsonl"
OUT_EVAL = BENCH / "lingshu-demo" / "test.jsonl"

HELDOUT_PERCENT = 20  # of VQA-RAD cases; the rest trains
ORGANS = ("head", "chest", "abdomen")
MODALITIES = ("CT", "MRI", "X-ray")  # the radiology modalities with held-out images
QUESTIONS = {
    # The wording of the curation op's templates (lingshu.data.curate synth_vqa_template):
    # evaluation asks what training taught, on images training never saw.
    "organ": "Which organ or body region is shown in this image?",
    "modality": "Which imaging modality was used to acquire this image?",
}
VQA_RAD_ORGAN = {"HEAD": "head", "CHEST": "chest", "ABD": "abdomen"}
# SLAKE ``location`` -> body region. Pelvic-cavity images get no organ question: VQA-RAD's
# ABD label does not say whether it covers the pelvis, so the gold answer would be a guess.
SLAKE_ORGAN = {"Brain": "head", "Brain_Tissue": "head", "Lung": "chest",
               "Chest_mediastinal": "chest", "Abdomen": "abdomen"}
SLAKE_MODALITY = {"CT": "CT", "MRI": "MRI", "X-Ray": "X-ray"}

# Package samples, read at run time from the installed packages (never copied):
# (package, file, modality, organ or None, licence note, extra decoding options).
PACKAGE_SAMPLES = [
    ("pydicom", "CT_small.dcm", "CT", None,
     "pydicom test file, downsized from NEMA WG04 CT1_UNC (pydicom data/test_files/README.txt); MIT (pydicom)", {}),
    ("pydicom", "MR_small.dcm", "MRI", None,
     "pydicom test file, downsized from NEMA WG04 MR1_UNC (pydicom data/test_files/README.txt); MIT (pydicom)", {}),
    ("pydicom", "examples_palette.dcm", "ultrasound", None,
     "pydicom test file, OBXXXX1A.dcm cropped (pydicom data/test_files/README.txt); MIT (pydicom)", {}),
    ("skimage", "retina", "fundus", "eye",
     "scikit-image data.retina: Häggström, Wikimedia Commons, CC0 1.0", {}),
    ("skimage", "immunohistochemistry", "histopathology", "colon",
     "scikit-image data.immunohistochemistry: CMMI, no known copyright restrictions", {}),
] + [
    ("nibabel", "anatomical.nii", "MRI", "head",
     "nibabel test volume (nibabel/tests/data), MIT (nibabel)", {"slice_index": z})
    for z in (8, 12, 16)  # 33x41 px slices: image_min_side (64 px) drops them, as the paper would
] + [
    ("nibabel", "example4d.nii.gz", "MRI", "head",
     "nibabel test volume (nibabel/tests/data), MIT (nibabel)", {"slice_index": z})
    for z in (6, 12, 18)
]


def _hash_percent(key: str) -> int:
    return int(hashlib.sha256(f"lingshu-demo:{key}".encode()).hexdigest(), 16) % 100


def vqa_rad_modality(rows: list[dict]) -> str | None:
    """A modality read from the image's own questions: MODALITY questions (open answers, or
    a polar "Is this a/an X...?" answered yes), and any question naming the image's modality
    ("... on this CT?", "the chest x-ray"); ``None`` when absent or when they disagree.
    Negated questions are skipped: their answers name what the image is *not*."""
    found: Counter = Counter()
    for r in rows:
        if _NEGATED.search(r["question"]):
            continue  # "What type of imaging does this not represent?" -> "ultrasound" (synpic28602, a chest X-ray)
        for m in _NAMED.finditer(r["question"]):
            label = _modality_word(m.group(1))
            if label and not (str(r["answer_type"]).upper() == "CLOSED"
                              and str(r["question_type"]).upper().startswith("MODALITY")):
                found[label] += 1  # a polar modality question names a guess, not a fact
        if not str(r.get("question_type", "")).upper().startswith("MODALITY"):
            continue
        text = None
        if str(r["answer_type"]).upper() == "OPEN":
            text = str(r["answer"])
        elif str(r["answer"]).strip().lower() == "yes":
            m = re.match(r"(?:is|was) (?:this|the image|this image)(?: image)? (?:a |an |taken with |taken by )?(.*)",
                         r["question"].lower())
            text = m.group(1) if m else None
        label = _modality_word(text) if text else None
        if label:
            found[label] += 1
    return next(iter(found)) if len(found) == 1 else None


_NEGATED = re.compile(r"\b(?:not|never)\b|n't\b", re.I)
_NAMED = re.compile(
    r"\b(?:this|the|on|in)\s+(?:\w+\s+)?(ct|mri|mr|x-?ray|radiograph|cxr|film|ultrasound)\b", re.I)


# Silver labels, for training images only. Most VQA-RAD images are never asked their modality
# (183 of 252 training images had none), and CT was the rarest training class (16 images): the
# demo's models answered "MRI" for every CT question on SLAKE's abdominal CTs. The other
# questions still betray the modality through each one's vocabulary: density for CT, signal
# intensity and sequences for MRI, projections for plain films. Of the 86 VQA-RAD images the
# strict rule labels, the cues name one modality for 73, and it is the strict label for all 73
# (tests/eval/benchmarks/test_lingshu_demo.py). Held-out images keep the strict rule, so the
# evaluation set does not change: silver labels add 16 training images (CT 15 -> 25).
_SILVER = {
    "CT": re.compile(r"\b(?:ct|computed tomography|(?:hypo|hyper|iso)[- ]?dens\w*|attenuation|hounsfield)\b"),
    "MRI": re.compile(r"\b(?:mri|mr|t1|t2|flair|dwi|adc|gadolinium|(?:hypo|hyper|iso)[- ]?intens\w*)\b"),
    "X-ray": re.compile(r"x-?ray|\bcxr\b|plain film|radiograph|\bpa\b"),
}
_POLAR = re.compile(r"\s*(?:is|was|are) (?:this|the image|the study|this image|it)\b")


def silver_modality(rows: list[dict]) -> str | None:
    """The modality the image's other questions imply (``_SILVER``): cue words in a question
    that does not ask whether the image is of some modality ("Is this a CT?" names a guess) and
    is not negated, or in an open answer; ``None`` when absent or when they disagree."""
    found: set[str] = set()
    for r in rows:
        q = r["question"].lower()
        if _NEGATED.search(q):
            continue
        texts = [] if _POLAR.match(q) and str(r["answer_type"]).upper() == "CLOSED" else [q]
        if str(r["answer_type"]).upper() == "OPEN":
            texts.append(str(r["answer"]).lower())
        found |= {label for label, cue in _SILVER.items() for t in texts if cue.search(t)}
    return next(iter(found)) if len(found) == 1 else None


def _modality_word(text: str) -> str | None:
    t = text.lower()
    if re.search(r"\b(ct|computed tomography)\b", t):
        return "CT"
    if re.search(r"\b(mri|mr|t1|t2|flair|dwi|adc|diffusion)\b", t):
        return "MRI"
    if re.search(r"(x-?ray|\bcxr\b|plain film|radiograph|\bpa\b)", t):
        return "X-ray"
    if "ultrasound" in t:
        return "ultrasound"
    return None


def build_manifest() -> list[dict]:
    rows = json.loads(next((BENCH / "vqa-rad").glob("VQA_RAD Dataset Public*.json")).read_text())
    by_image: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_image[r["image_name"]].append(r)
    out: list[dict] = []
    for name in sorted(by_image):
        rs = by_image[name]
        case = rs[0]["image_case_url"].rsplit("id=", 1)[-1]
        out.append({
            "id": f"vqa-rad/{Path(name).stem}", "source": "vqa-rad",
            "path": f"../benchmarks/vqa-rad/VQA_RAD Image Folder/{name}",
            "organ": VQA_RAD_ORGAN[rs[0]["image_organ"]], "modality": vqa_rad_modality(rs),
            "group": f"medpix-case:{case}",
            "split": "heldout" if _hash_percent(case) < HELDOUT_PERCENT else "train",
            "license": "CC0-1.0",
        })
        if out[-1]["modality"] is None and out[-1]["split"] == "train":
            silver = silver_modality(rs)
            if silver:
                out[-1].update(modality=silver, modality_label="silver")
    slake = json.loads((BENCH / "slake" / "test.sample40images.json").read_text())
    seen = set()
    for r in slake:
        if r["img_name"] in seen:
            continue
        seen.add(r["img_name"])
        out.append({
            "id": f"slake/{r['img_name'].split('/')[0]}", "source": "slake",
            "path": f"../benchmarks/slake/imgs/{r['img_name']}",
            "organ": SLAKE_ORGAN.get(r["location"]), "modality": SLAKE_MODALITY.get(r["modality"]),
            "group": f"slake-image:{r['img_id']}", "split": "heldout", "license": "CC-BY-4.0",
        })
    for package, file, modality, organ, licence, opts in PACKAGE_SAMPLES:
        stem = file.split(".")[0]
        suffix = f"/z{opts['slice_index']}" if "slice_index" in opts else ""
        out.append({
            "id": f"{package}/{stem}{suffix}", "source": package, "package": package, "file": file,
            **({"options": opts} if opts else {}), "organ": organ, "modality": modality,
            "group": f"{package}-volume:{stem}", "split": "train", "license": licence,
        })
    return out


def build_eval(manifest: list[dict]) -> list[dict]:
    items = []
    for row in manifest:
        if row["split"] != "heldout":
            continue
        image = row["path"].removeprefix("../benchmarks/")
        for field, space in (("organ", ORGANS), ("modality", MODALITIES)):
            value = row.get(field)
            if value not in space:
                continue
            qid = f"{row['id']}/{field}"
            options = list(space)
            random.Random(qid).shuffle(options)
            letters = "ABC"
            items.append({
                "id": qid, "question": QUESTIONS[field],
                "options": dict(zip(letters, options, strict=True)),
                "answer": letters[options.index(value)], "image": image,
                "category": field, "source": row["source"], "group": row["group"],
            })
    return items


def main() -> int:
    manifest = build_manifest()
    items = build_eval(manifest)
    OUT_MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    OUT_EVAL.parent.mkdir(parents=True, exist_ok=True)
    OUT_MANIFEST.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in manifest))
    OUT_EVAL.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))
    split = Counter((r["source"], r["split"]) for r in manifest)
    print(f"{len(manifest)} images {dict(split)}; {len(items)} questions "
          f"{dict(Counter(i['category'] for i in items))} answers {dict(Counter(i['answer'] for i in items))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
