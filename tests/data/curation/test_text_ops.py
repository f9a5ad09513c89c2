"""Token counts (Qwen2.5 vocabulary), language id, exact + MinHash near-dup removal."""

from __future__ import annotations

import random
import re

import pytest
from curation_helpers import op

from lingshu.data.curate.ops.minhash import optimal_bands, shingles
from lingshu.data.curate.record import Record, conversation


def rec(rid, a, q="Describe the image.", task="caption", source="s", dataset=None):
    return Record(id=rid, source=source, dataset=dataset or source, task=task,
                  messages=conversation(q, a))


def test_token_count_with_the_qwen_vocabulary_and_caption_bounds():
    # Qwen2.5 ids, from the released tokenizer: "Hello"=9707, " world"=1879.
    o = op("token_count")
    assert o.tok("Hello world", add_special_tokens=False)["input_ids"] == [9707, 1879]
    long = "lung " * 1100
    recs = [rec("short", "Normal."), rec("ok", "A frontal chest radiograph shows clear "
                                         "lungs and a normal heart size."),
            rec("long", long), rec("vqa-short", "yes", task="vqa")]
    kept, dropped = o.apply(recs)
    assert [r.id for r in kept] == ["ok", "vqa-short"]  # bounds apply to captions only
    assert {d["id"] for d in dropped} == {"short", "long"}
    assert recs[0].stats["token_count"]["tokens"] == 2  # "Normal" "."
    assert dropped[1]["statistic"]["tokens"] > 1024


def test_language_id():
    o = op("language_id")
    recs = [rec("en", "The chest radiograph shows a right lower lobe consolidation."),
            rec("es", "La radiografía de tórax muestra una consolidación en el lóbulo inferior."),
            rec("fr", "La radiographie thoracique montre une opacité du lobe inférieur droit."),
            rec("short", "ok")]
    kept, dropped = o.apply(recs)
    assert [r.id for r in kept] == ["en", "short"]
    assert {d["id"]: d["statistic"]["language"] for d in dropped} == {"es": "es", "fr": "fr"}


WORDS = ("lung liver heart kidney brain spleen bone nodule mass effusion fracture normal "
         "opacity lesion contrast axial coronal sagittal left right upper lower lobe").split()


def corpus(n: int, seed: int = 0):
    """n base texts of 40 words plus labelled variants: exact copies (case / spacing),
    near copies (2 words changed: Jaccard of 5-grams about 0.6-0.8) and light edits
    (1 word appended: Jaccard > 0.9)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        base = [rng.choice(WORDS) for _ in range(40)] + [f"case{i}"]
        texts.append(" ".join(base))
        labels.append(("base", i))
        kind = i % 3
        if kind == 0:
            texts.append("  ".join(base).upper())
            labels.append(("exact", i))
        elif kind == 1:
            texts.append(" ".join(base + ["indeed"]))
            labels.append(("light", i))
    return texts, labels


def jaccard(a: str, b: str, n: int = 5) -> float:
    x, y = set(shingles(a, n)), set(shingles(b, n))
    return len(x & y) / len(x | y)


def test_minhash_dedup_against_exact_jaccard():
    texts, labels = corpus(90)
    o = op("text_dedup", threshold=0.8)
    recs = [rec(f"t{i}", t) for i, t in enumerate(texts)]
    entries = [{"id": r.id, "source": r.source, "dataset": r.dataset, "sig": s}
               for r, s in zip(recs, o.signatures(recs), strict=True)]
    drop = o.decide(entries, {})
    # reference: greedy removal by exact Jaccard of the same shingles
    kept: list[str] = []
    expected = set()
    for r in recs:
        t = r.text()
        if any(jaccard(t, k) >= 0.8 for k in kept):
            expected.add(r.id)
        else:
            kept.append(t)
    fn = expected - set(drop)
    fp = set(drop) - expected
    assert len(fn) <= 1 and not fp, (fn, fp)
    exact_ids = {f"t{i}" for i, (k, _) in enumerate(labels) if k == "exact"}
    assert exact_ids <= set(drop)
    assert all(drop[i]["reason"].startswith("exact") for i in exact_ids)
    light = [f"t{i}" for i, (k, _) in enumerate(labels) if k == "light"]
    assert all(drop[i]["reason"].startswith("near") for i in light if i in drop)


def test_keeps_the_copy_from_the_most_reliable_source():
    text = "Chest radiograph with a small left pleural effusion and no pneumothorax seen."
    a = rec("web", text, source="web")
    b = rec("book", text + " ", source="textbook")
    o = op("text_dedup", source_order=["textbook", "web"])
    entries = [{"id": r.id, "source": r.source, "dataset": r.dataset, "sig": s}
               for r, s in zip([a, b], o.signatures([a, b]), strict=True)]
    assert set(o.decide(entries, {})) == {"web"}
    # without source_order the inputs' priority decides
    o = op("text_dedup")
    assert set(o.decide(entries, {"web": 0, "textbook": 1})) == {"book"}


def test_scope_dataset():
    t = "Axial CT of the abdomen shows a hypodense lesion in the right hepatic lobe."
    a, b = rec("a", t, dataset="d1"), rec("b", t, dataset="d2")
    o = op("text_dedup", scope="dataset")
    entries = [{"id": r.id, "source": r.source, "dataset": r.dataset, "sig": s}
               for r, s in zip([a, b], o.signatures([a, b]), strict=True)]
    assert o.decide(entries, {}) == {}


@pytest.mark.parametrize(("t", "n"), [(0.8, 128), (0.5, 128), (0.9, 256)])
def test_band_choice_puts_the_threshold_on_the_s_curve(t, n):
    b, r = optimal_bands(t, n)
    assert b * r <= n
    assert abs((1 / b) ** (1 / r) - t) < 0.12  # the S-curve's midpoint is near t


def test_shingles():
    assert shingles("A b, c d e f", 5) == ["a b c d e", "b c d e f"]
    assert shingles("Too short", 5) == ["too short"]
    assert re.fullmatch(r"[a-z ]+", shingles("Mixed CASE words here now ok", 5)[0])


def _dedup(o, recs):
    """text_dedup's signature + decision over one batch of records, as a run does it."""
    entries = [{"id": r.id, "source": r.source, "dataset": r.dataset, "sig": s}
               for r, s in zip(recs, o.signatures(recs), strict=True) if s is not None]
    return o.decide(entries, {"s": 0})


def test_text_dedup_keys_image_rows_by_their_images(tmp_path):
    from curation_helpers import rad_images

    imgs = rad_images(101)
    q, a = "What abnormality is seen in this image?", "The finding described in the report."
    rows = [Record(id=f"r{i}", source="s", dataset="s",
                   messages=conversation(q, a, [str(p)])) for i, p in enumerate(imgs)]
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(imgs[0].read_bytes())  # the same bytes under another name
    same = Record(id="same-image", source="s", dataset="s",
                  messages=conversation(q, a, [str(copy)]))
    text_only = [rec("t1", a, q=q), rec("t2", a, q=q)]
    drop = _dedup(op("text_dedup"), [*rows, same, *text_only])
    # one generic question about 101 different images: no duplicate (was 100 of 101); the
    # same image file again is one; text-only rows as before
    assert drop.keys() == {"same-image", "t2"}
    assert drop["same-image"]["reason"] == "exact text duplicate of r0"
    old = _dedup(op("text_dedup", with_images=False), [*rows, same, *text_only])
    # keyed by text alone: every row but r0 goes (100 image rows, the copy, t1 and t2)
    assert len(old) == 103 and "r0" not in old


def test_packed_signatures_give_the_same_decision():
    """Signatures are stored packed (uint32 columns, ``pack``) and read back (``unpack``):
    same drops, same Jaccard estimates as with the lists ``signatures`` returns."""
    import numpy as np

    rng = random.Random(3)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words) for _ in range(80)) for _ in range(300)]
    texts += [t.replace(t.split()[3], "changed", 1) for t in texts[:100]]  # near copies
    recs = [rec(f"r{i}", t, q="") for i, t in enumerate(texts)]
    o = op("text_dedup")
    sigs = o.signatures(recs)
    entries = [{"id": r.id, "source": "s", "dataset": "s", "sig": s}
               for r, s in zip(recs, sigs, strict=True)]
    cols = o.pack(sigs)
    packed = [{**e, "sig": s} for e, s in zip(entries, o.unpack(cols, np.arange(len(recs))),
                                              strict=True)]
    assert packed[0]["sig"]["m"].dtype == np.uint32 and packed[0]["sig"]["m"].nbytes == 512
    plain = o.decide(entries, {"s": 0})
    assert len(plain) >= 90 and o.decide(packed, {"s": 0}) == plain, len(plain)
