"""Build the small data set the ``nano`` recipe trains on (shipped in ``recipes/data/nano``).

Source: VQA-RAD's public **train** rows (CC0 1.0; ``data/benchmarks/vqa-rad`` of the
repository, official test rows absent), images downsized to 112x112 grayscale PNG
(16 visual tokens for Lingshu-Nano, BRIEF §5). Three files, one per SFT stage, in the three
conversation styles so that the shipped run also exercises every reader:

- ``stage1.jsonl`` (Qwen-messages): short captions "A medical image of the chest." (organ);
- ``stage2.jsonl`` (LLaVA): the captions again plus yes/no questions, and text-only rows;
- ``stage3.jsonl`` (ShareGPT): VQA-RAD question/answer pairs plus text-only rows;
- ``stage4-rl.jsonl``: body-region multiple choice with gold letters (CONTRACTS §2 RL rows).

Regenerate with ``python -m lingshu.train.data.nano data/benchmarks/vqa-rad``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from lingshu.inference import conversation, user_message

ORGAN = {"HEAD": "head", "CHEST": "chest", "ABD": "abdomen"}
OUT = Path(__file__).resolve().parents[1] / "recipes" / "data" / "nano"
TEXT_QA = [
    ("What does CT stand for?", "Computed tomography."),
    ("Which organ does a chest X-ray mainly show?", "The lungs and the heart."),
    ("What is the brain protected by?", "The skull."),
    ("Where is the liver?", "In the right upper abdomen."),
    ("What is pneumothorax?", "Air in the pleural space."),
    ("What does MRI stand for?", "Magnetic resonance imaging."),
]


def build(vqa_rad: Path, out: Path = OUT, per_organ: int = 40, seed: int = 0) -> None:
    from PIL import Image

    rows = json.loads(next(vqa_rad.glob("VQA_RAD Dataset Public*.json")).read_text())
    rng = random.Random(seed)
    by_img: dict[str, list[dict]] = {}
    for r in rows:
        by_img.setdefault(r["image_name"], []).append(r)
    chosen: list[str] = []
    for organ in ORGAN:
        names = sorted(n for n, rs in by_img.items() if rs[0]["image_organ"] == organ)
        chosen += rng.sample(names, min(per_organ, len(names)))
    (out / "images").mkdir(parents=True, exist_ok=True)
    s1, s2, s3, s4 = [], [], [], []
    for name in chosen:
        img = Image.open(vqa_rad / "VQA_RAD Image Folder" / name).convert("L").resize((112, 112))
        rel = f"images/{Path(name).stem}.png"
        img.save(out / rel, optimize=True)
        organ = ORGAN[by_img[name][0]["image_organ"]]
        cap = f"A medical image of the {organ}."
        s1.append({"id": f"cap-{name}", "source": "vqa-rad-train",
                   "messages": conversation("Describe the image briefly.", cap, [rel])})
        s2.append({"id": f"cap2-{name}", "image": rel, "conversations": [
            {"from": "human", "value": "<image>\nWhich body region is shown?"},
            {"from": "gpt", "value": f"The {organ}."}]})
        s4.append({"id": f"rl-{name}", "source": "vqa-rad-train", "modality": "radiology",
                   "messages": [user_message("Which body region is shown? A. head B. chest C. abdomen", [rel])],
                   "answer": {"head": "A", "chest": "B", "abdomen": "C"}[organ], "question_type": "mcq",
                   "options": {"A": "head", "B": "chest", "C": "abdomen"}})
        for r in by_img[name]:
            s3.append({"id": f"qa-{r['qid']}", "images": [rel], "messages": [
                {"role": "user", "content": "<image>" + r["question"]},
                {"role": "assistant", "content": str(r["answer"]).strip()}]})
    for q, a in TEXT_QA:
        s2.append({"id": f"text-{q[:12]}", "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]})
        s3.append({"id": f"text-{q[:12]}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    for fname, data in (("stage1.jsonl", s1), ("stage2.jsonl", s2), ("stage3.jsonl", s3), ("stage4-rl.jsonl", s4)):
        (out / fname).write_text("".join(json.dumps(x) + "\n" for x in data))
    (out / "PROVENANCE.md").write_text(
        "# nano recipe data\n\nBuilt by `python -m lingshu.train.data.nano data/benchmarks/vqa-rad` from "
        "VQA-RAD's public train rows (Lau et al., Sci Data 2018; CC0 1.0; official test rows excluded). "
        f"{len(chosen)} images, 112x112 grayscale PNG. Text-only rows written by hand.\n")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
