"""Rebuild src/lingshu/data/curate/modality_fallback.json, the offline modality classifier.

Training images (all bundled in this repository or in installed packages):
- SLAKE (data/benchmarks/slake/imgs, CC BY 4.0): the 40 bundled images, labelled by the
  dataset's own ``modality`` field (CT / MRI / X-Ray);
- scikit-image's sample data (BSD-3 / public domain per skimage's data README):
  ``retina`` (a fundus photograph) and ``immunohistochemistry`` (an IHC slide,
  histopathology), each as 8 crops/flips, since one image per class is all there is.
Held-out check: VQA-RAD images whose modality question has an unambiguous answer; the
same images calibrate each class's largest distance from its training images (``max_z``:
1.1 x the largest over the held-out images labelled right; classes without held-out
images take the largest of those).

    PYTHONPATH=src python scripts/train_modality_fallback.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lingshu.core.io import atomic_write_json  # noqa: E402
from lingshu.data.curate.ops.modality import (  # noqa: E402
    FallbackClassifier, class_ranges, image_features, train_fallback)

SLAKE_LABEL = {"CT": "CT", "MRI": "MRI", "X-Ray": "X-ray"}
VQARAD_LABEL = {"ct": "CT", "x-ray": "X-ray", "mri": "MRI", "chest x-ray": "X-ray",
                "xray": "X-ray", "mr": "MRI", "ct scan": "CT", "plain film": "X-ray"}


def skimage_crops(tmp: Path) -> list[tuple[str, str]]:
    from PIL import Image, ImageOps
    from skimage import data

    out = []
    for name, label in (("retina", "fundus"), ("immunohistochemistry", "histopathology")):
        im = Image.fromarray(getattr(data, name)()).convert("RGB")
        w, h = im.size
        for i, box in enumerate([(0, 0, w, h), (0, 0, w * 3 // 4, h * 3 // 4),
                                 (w // 4, h // 4, w, h), (w // 8, h // 8, w * 7 // 8, h * 7 // 8)]):
            for flip in (False, True):
                c = im.crop(box)
                c = ImageOps.mirror(c) if flip else c
                p = tmp / f"{name}-{i}-{int(flip)}.png"
                c.save(p)
                out.append((str(p), label))
    return out


def main() -> None:
    slake = ROOT / "data/benchmarks/slake"
    rows = json.loads((slake / "test.sample40images.json").read_text())
    seen: dict[str, str] = {}
    for r in rows:
        seen.setdefault(r["img_name"], SLAKE_LABEL[r["modality"]])
    items = [(str(slake / "imgs" / k), v) for k, v in sorted(seen.items())]
    with tempfile.TemporaryDirectory() as t:
        items += skimage_crops(Path(t))
        model = train_fallback([p for p, _ in items], [lab for _, lab in items])
        z = (np.stack([image_features(p) for p, _ in items]) - model["mean"]) / model["std"]
        model["class_range"] = class_ranges(z, [lab for _, lab in items], model["classes"])
        clf = FallbackClassifier(model)
        train_acc = sum(clf.predict(p)[0] == lab for p, lab in items) / len(items)
    vr = ROOT / "data/benchmarks/vqa-rad"
    rad = json.loads((vr / "VQA_RAD Dataset Public (train rows only).json").read_text())
    held: dict[str, str] = {}
    for r in rad:
        if "MODALITY" in r["question_type"] and str(r["answer"]).strip().lower() in VQARAD_LABEL:
            held.setdefault(r["image_name"], VQARAD_LABEL[str(r["answer"]).strip().lower()])
    preds = {k: clf.predict_with_range(str(vr / "VQA_RAD Image Folder" / k)) for k in held}
    correct = sum(preds[k][0] == v for k, v in held.items())
    worst: dict[str, float] = {}
    for k, v in held.items():
        if preds[k][0] == v:
            worst[v] = max(worst.get(v, 0.0), preds[k][3])
    for c, r in model["class_range"].items():
        r["max_z"] = round(1.1 * worst.get(c, max(worst.values())), 2)
    print(f"train accuracy {train_acc:.3f} on {len(items)}; held-out VQA-RAD "
          f"{correct}/{len(held)} = {correct / max(len(held), 1):.3f}")
    atomic_write_json(ROOT / "src/lingshu/data/curate/modality_fallback.json", {
        "provenance": __doc__.strip().splitlines()[2:9],
        "train_images": len(items),
        "train_accuracy": round(train_acc, 4),
        "heldout_vqa_rad": {"images": len(held), "accuracy": round(correct / len(held), 4)},
        "model": model,
    })


if __name__ == "__main__":
    main()
