"""Planted benchmark items (images and text) are removed and named; clean samples stay."""

from __future__ import annotations

import json

from curation_helpers import BENCH, SLAKE
from PIL import Image

from lingshu.data.curate.ops import OPS
from lingshu.data.curate.record import Record, conversation
from lingshu.eval.benchmarks import get_benchmark


def op(**params):
    cls = OPS.get("decontaminate")
    o = cls(cls.Params(data_dir=str(BENCH), **params))
    o.setup()
    return o


def rec(rid, q, a="x", images=()):
    return Record(id=rid, source="train", messages=conversation(q, a, [str(p) for p in images]))


def test_planted_images_and_questions(tmp_path):
    rad = get_benchmark("vqa-rad").load(BENCH, "train")
    medqa = get_benchmark("medqa-usmle").load(BENCH)
    img = rad[0].images[0]
    im = Image.open(img).convert("RGB")
    im.save(tmp_path / "copy.png")  # lossless re-encode: pHash distance 0
    im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(tmp_path / "small.jpg", quality=85)
    from skimage import data

    Image.fromarray(data.retina()).save(tmp_path / "retina.png")  # in no benchmark
    mq = medqa[3]
    long_answer = next(s for s in medqa if len(s.options[s.answer].split()) >= 8) \
        if medqa[0].options else None
    recs = [
        rec("img-exact", "Describe this scan.", images=[tmp_path / "copy.png"]),
        rec("img-near", "Describe this scan.", images=[tmp_path / "small.jpg"]),
        rec("q-copy", "Please answer: " + mq.question + " Think carefully."),
        rec("a-copy", "Summarise.", a="So: " + long_answer.options[long_answer.answer]),
        rec("clean-img", "What organ is shown?", images=[tmp_path / "retina.png"]),
        rec("clean-text", "What is the most common cause of community acquired pneumonia?"),
    ]
    kept, dropped = op().apply(recs)
    by = {d["id"]: d for d in dropped}
    import imagehash

    near_d = imagehash.phash(Image.open(tmp_path / "small.jpg")) - imagehash.phash(Image.open(img))
    assert set(by) == {"img-exact", "q-copy", "a-copy"} | ({"img-near"} if near_d == 0 else set())
    s = by["img-exact"]["statistic"]
    assert s["benchmark"] == "vqa-rad" and s["kind"] == "image" and s["distance"] == 0
    assert any(x.id == s["item"] and img in x.images for x in rad)
    s = by["q-copy"]["statistic"]
    assert (s["benchmark"], s["item"], s["kind"]) == ("medqa-usmle", mq.id, "question")
    assert by["q-copy"]["reason"] == f"question overlaps medqa-usmle item {mq.id}"
    assert by["a-copy"]["statistic"]["item"] == long_answer.id
    # near matching finds the resized copy too
    kept, dropped = op(benchmarks=["vqa-rad"], image_threshold=10).apply(
        [rec("img-near", "Describe.", images=[tmp_path / "small.jpg"])])
    assert dropped and dropped[0]["statistic"]["kind"] == "image"
    assert dropped[0]["statistic"]["distance"] <= 10


def test_every_benchmark_in_the_data_dir_by_default():
    o = op()
    loaded = o.index.loaded
    names = {k.split("/")[0] for k in loaded}
    # every bundled benchmark folder, the demo's own evaluation set included
    assert names == {"vqa-rad", "slake", "medqa-usmle", "pubmedqa", "medmcqa", "mmlu-med",
                     "lingshu-demo"}, loaded
    rows = json.loads((SLAKE / "test.sample40images.json").read_text())
    r = rows[0]
    _, dropped = o.apply([rec("slake-img", "Anything?", images=[SLAKE / "imgs" / r["img_name"]])])
    # lingshu-demo's held-out questions are asked on the same SLAKE test images: either
    # benchmark is a true match
    assert dropped[0]["statistic"]["benchmark"] in {"slake", "lingshu-demo"}
