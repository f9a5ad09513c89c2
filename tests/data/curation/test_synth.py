"""Synthesis ops against a deterministic fake backend; the cache makes reruns free."""

from __future__ import annotations

import json

import fake_backend
import pytest
from curation_helpers import rad_images

from lingshu.data.curate.ops import OPS
from lingshu.data.curate.ops.llm import prompt_template
from lingshu.data.curate.ops.modality import MODALITIES
from lingshu.data.curate.record import Record, conversation


@pytest.fixture(autouse=True)
def _reset(monkeypatch):
    fake_backend.registered(monkeypatch)
    fake_backend.CALLS.clear()


def op(name, tmp_path, **params):
    cls = OPS.get(name)
    if name != "synth_vqa_template":
        params.setdefault("llm", {"backend": "curate-fake",
                                  "cache": str(tmp_path / "cache.sqlite")})
    o = cls(cls.Params(**params))
    o.setup()
    return o


def img_rec(rid, caption="", modality="CT", **meta):
    return Record(id=rid, source="s", modality=modality, task="caption",
                  messages=conversation("Describe.", caption, [str(rad_images(1)[0])]),
                  meta=meta)


def test_prompts_are_versioned_files():
    for name in ("caption_short", "caption_factual", "caption_preference", "caption_summary",
                 "vqa_self_instruct", "cot_generate", "cot_verify", "ocr_answer",
                 "deid_rewrite"):
        version, text = prompt_template(name)
        assert version == "1" and text.strip()


def test_long_caption_five_steps_with_checklist(tmp_path):
    o = op("synth_caption", tmp_path)
    recs = [img_rec("a", modality="MRI", boxes=[[10, 10, 60, 60, "lesion"]]),
            img_rec("b", modality="CT")]
    out, dropped = o.apply(recs)
    assert not dropped
    children = {r.id: r for r in out if r.meta.get("synthesis")}
    assert set(children) == {"a/caption", "b/caption"}
    c = children["a/caption"]
    assert c.task == "caption" and c.text("assistant").startswith("Axial contrast-enhanced CT")
    assert c.meta["steps"]["preference"] == \
        "Covers: sequence, plane, anatomy, abnormality, signal intensity."
    assert children["b/caption"].meta["steps"]["preference"] == \
        "Covers: plane, contrast, density, lesion location and size."
    assert len(fake_backend.CALLS) == 8  # 4 model steps x 2 (ROI boxes are drawn, not asked)
    roi = [t for t in fake_backend.CALLS if "Regions of interest" in t]
    assert "box [10, 10, 60, 60] (lesion)" in roi[0]
    # the short-caption step never sees the patient's age: metadata only
    # rerun: everything from the cache
    fake_backend.CALLS.clear()
    out2, _ = op("synth_caption", tmp_path).apply([img_rec("a", modality="MRI",
                                                           boxes=[[10, 10, 60, 60, "lesion"]]),
                                                   img_rec("b", modality="CT")])
    assert fake_backend.CALLS == []
    assert [r.to_dict() for r in out2] == [r.to_dict() for r in out]


def test_template_vqa_distractors_from_label_space(tmp_path):
    o = op("synth_vqa_template", tmp_path, fields=["modality", "organ"],
           label_space={"organ": ["liver", "lung", "brain", "kidney", "heart"]})
    recs = [img_rec(f"r{i}", modality=m, organ=org)
            for i, (m, org) in enumerate([("CT", "liver"), ("MRI", "brain"), ("X-ray", "lung")])]
    out, _ = o.apply(recs)
    kids = [r for r in out if r.meta.get("synthesis")]
    assert len(kids) == 6
    letters_of_gold = set()
    for k in kids:
        opts, gold = k.meta["options"], k.meta["answer"]
        parent = next(r for r in recs if r.id == k.meta["parent"])
        field = k.id.rsplit("-", 1)[1]
        value = parent.modality if field == "modality" else parent.meta["organ"]
        assert opts[gold] == value and len(set(opts.values())) == 4
        space = MODALITIES if field == "modality" else ["liver", "lung", "brain", "kidney", "heart"]
        assert set(opts.values()) <= set(space)
        assert k.text("assistant") == f"{gold}. {value}"
        letters_of_gold.add(gold)
    assert len(letters_of_gold) > 1  # options are shuffled
    again, _ = o.apply(recs)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in out]  # deterministic


def test_self_instruct_error_gate(tmp_path):
    o = op("synth_vqa_self_instruct", tmp_path, keep_source=False)
    out, dropped = o.apply([img_rec("ok", caption="Axial CT with a liver lesion."),
                            img_rec("bad", caption="MISMATCH fundus photo.")])
    assert [r.id for r in out] == ["ok/sivqa"]
    assert out[0].meta["options"][out[0].meta["answer"]] == "liver"
    assert sorted(out[0].meta["options"].values()) == ["kidney", "liver", "pancreas", "spleen"]
    assert dropped[0]["id"] == "bad/sivqa" and "Error" in dropped[0]["reason"]


def test_cot_with_consistency_verification(tmp_path):
    o = op("synth_cot", tmp_path, keep_source=False)
    recs = [Record(id=i, source="s", messages=conversation(q, "B"))
            for i, q in [("good", "Which? A. x B. y"), ("incons", "INCONS Which? A. x B. y"),
                         ("wrong", "WRONG Which? A. x B. y")]]
    out, dropped = o.apply(recs)
    assert [r.id for r in out] == ["good/cot"]
    assert out[0].text("assistant") == "<think>The lesion is hypodense.</think>\nB"
    why = {d["id"]: d["reason"] for d in dropped}
    assert why == {"incons/cot": "verifier: inconsistent trace",
                   "wrong/cot": "answer differs from gold",
                   # keep_source false: the parents leave too, each with its reason
                   "good": "replaced by its synthesised sample(s)",
                   "incons": "no synthesised sample kept (keep_source: false)",
                   "wrong": "no synthesised sample kept (keep_source: false)"}


def test_ocr_renders_questions_kept_on_exact_match(tmp_path):
    from PIL import Image

    o = op("synth_ocr", tmp_path, keep_source=False)
    recs = [Record(id="q1", source="s", messages=conversation(
                "Which organ makes insulin?\nA. pancreas\nB. liver", "A")),
            Record(id="q2", source="s", messages=conversation(
                "Which is largest? pick B\nA. heart\nB. skin", "A"))]
    out, dropped = o.apply(recs)
    assert [r.id for r in out] == ["q1/ocr"] and dropped[0]["id"] == "q2/ocr"
    img = Image.open(out[0].images()[0])
    assert img.width == 768 and img.height >= 64
    assert out[0].text("user") == "Answer the question shown in the image."


def test_deid_llm_rewrite_of_dialogues(tmp_path):
    cls = OPS.get("deidentify")
    o = cls(cls.Params(llm_rewrite={"backend": "curate-fake",
                                    "cache": str(tmp_path / "c.sqlite")}))
    o.setup()
    r = Record(id="d", source="s", task="dialogue",
               messages=conversation("I am Wei Zhang, I cough.", "Take amoxicillin 500 mg."))
    [out], _ = o.apply([r])
    assert out.text("assistant") == "Please see a clinician for an examination."
    assert out.stats["deidentify"]["llm_rewrite"] is True


def test_replaced_parents_are_accounted_for(tmp_path):
    """keep_source: false keeps the children only; each parent that got one is an
    exclusion, so read + synthesised = kept + excluded still holds."""
    from curation_helpers import rad_images, write_jsonl, write_recipe

    from lingshu.data.curate import load_recipe, run_recipe

    rows = [{"id": f"r{i}", "image": str(p), "question": "Describe.", "answer": "An image.",
             "modality": "CT"} for i, p in enumerate(rad_images(3))]
    rows.append({"id": "text", "question": "What is asthma?", "answer": "A disease."})
    write_jsonl(tmp_path / "a.jsonl", rows)
    r = write_recipe(tmp_path / "r.yaml", [{"name": "a", "path": "a.jsonl"}],
                     [{"op": "synth_vqa_template", "keep_source": False}])
    res = run_recipe(load_recipe(r))
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    # 3 image rows -> 3 children kept, 3 parents excluded; the text row gets no child and
    # leaves with its reason
    assert (s["read"], s["synthesised"], s["kept"], s["excluded"]) == (4, 3, 3, 4)
    assert (res.kept, res.excluded) == (3, 4)
    assert s["reasons"] == {
        "synth_vqa_template: replaced by its synthesised sample(s)": 3,
        "synth_vqa_template: no synthesised sample kept (keep_source: false)": 1}
