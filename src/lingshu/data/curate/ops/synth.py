"""Synthesis ops (paper §2, BRIEF §3): long captions in five steps, template VQA,
self-instruct VQA with the "Error" gate, chain-of-thought with a consistency check, and
OCR samples that render exam questions as images.

Every model call goes through :class:`LlmClient` (inference backends + a SQLite cache
keyed on the prompt template's version), so a rerun costs no model call. A synthesised
sample is a new record whose id derives from its parent's (``<id>/vqa`` ...); its parent
is kept unless ``keep_source: false``. A failed or rejected generation is an exclusion of
the would-be child, with the reason (the parent is unaffected).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from pathlib import Path
from typing import Any

from pydantic import Field

from lingshu.data.curate.ops.base import MapOp, OpParams, register_op
from lingshu.data.curate.ops.llm import LlmClient, LlmSpec, parse_json_reply, render
from lingshu.data.curate.ops.modality import MODALITIES
from lingshu.data.curate.record import Record, conversation, exclusion

CHECKLISTS = {
    "MRI": "sequence, plane, anatomy, abnormality, signal intensity",
    "X-ray": "body part, projection, signs of trauma, left/right",
    "CT": "plane, contrast, density, lesion location and size",
    "histopathology": "tissue, stain, cell morphology, architecture, distribution",
    "ultrasound": "organ, plane, echogenicity, lesion size and margins",
    "dermoscopy": "lesion colour, border, symmetry, structures",
    "knee X-ray": "joint space, osteophytes, alignment, bone density",
    "endoscopy": "site, mucosa, lesion appearance, bleeding",
    "fundus": "optic disc, macula, vessels, haemorrhages or exudates",
}
"""Per-modality "doctor preference" checklists (Lingshu paper §2, BRIEF §3)."""
DEFAULT_CHECKLIST = "anatomy, view, abnormalities, their location and size"


class _SynthParams(OpParams):
    llm: LlmSpec = Field(default_factory=LlmSpec, description="backend used for generation")
    keep_source: bool = Field(True, description="keep the parent record too")


class _LlmOp(MapOp):
    uses_model = True

    def setup(self) -> None:
        if self.context is not None:
            self.work = self.context.work_folder()
        else:  # an op used on its own (tests, notebooks): beside its cache, else cwd
            out = Path(self.params.llm.cache).parent if self.params.llm.cache else Path.cwd()
            self.work = out / ".work"
        self.llm = LlmClient(self.params.llm, self.work / "llm_cache.sqlite")

    def _ready(self) -> None:
        if not hasattr(self, "llm"):
            self.setup()

    def child(self, parent: Record, suffix: str, messages: list[dict], **kw: Any) -> Record:
        return Record(id=f"{parent.id}/{suffix}", source=parent.source, messages=messages,
                      dataset=parent.dataset, task=kw.pop("task", "vqa"),
                      modality=parent.modality,
                      meta={"parent": parent.id, "synthesis": self.name, **kw.pop("meta", {})},
                      **kw)

    def child_excl(self, parent: Record, suffix: str, reason: str, **stat: Any) -> dict:
        r = Record(id=f"{parent.id}/{suffix}", source=parent.source, messages=[],
                   dataset=parent.dataset, meta={"parent": parent.id, "synthesis": self.name})
        return exclusion(r, self.label, reason, stat)

    def _out(self, records: list[Record], children: list[Record],
             dropped: list[dict]) -> tuple[list[Record], list[dict]]:
        return synth_output(self, records, children, dropped)


def synth_output(op: MapOp, records: list[Record], children: list[Record],
                 dropped: list[dict]) -> tuple[list[Record], list[dict]]:
    """Parents and children (``keep_source``), else the children alone, each parent then
    being an exclusion (so that every record read is accounted for in the summary)."""
    if op.params.keep_source:
        return records + children, dropped
    had = {c.meta["parent"] for c in children}
    gone = [op.exclude(r, "replaced by its synthesised sample(s)" if r.id in had else
                       "no synthesised sample kept (keep_source: false)") for r in records]
    return children, dropped + gone


# ---- long captions -------------------------------------------------------------------


class CaptionParams(_SynthParams):
    pass


def _draw_boxes(path: str, boxes: list[list[float]], out_dir: Path) -> str:
    """Step 2: regions of interest drawn on a copy of the image (masks -> boxes upstream)."""
    from PIL import Image, ImageDraw

    with Image.open(path) as im:
        im = im.convert("RGB")
        d = ImageDraw.Draw(im)
        for b in boxes:
            d.rectangle([float(v) for v in b[:4]], outline=(255, 0, 0), width=2)
        name = hashlib.sha256((path + json.dumps(boxes)).encode()).hexdigest()[:24] + ".png"
        out_dir.mkdir(parents=True, exist_ok=True)
        dst = out_dir / name
        if not dst.exists():
            tmp = out_dir / f".{name}.tmp.png"
            im.save(tmp)
            tmp.replace(dst)
    return str(dst)


@register_op("synth_caption")
class SynthCaption(_LlmOp):
    summary = "long caption in five steps: metadata->short, ROI, factual, checklist, summary"
    Params = CaptionParams

    def apply(self, records: list[Record]):  # noqa: ANN201
        self._ready()
        todo = [r for r in records if r.images()]
        meta = [json.dumps({"modality": r.modality, **{k: v for k, v in r.meta.items()
                                                       if k not in ("parent",)},
                            "text": r.text()}, ensure_ascii=False, sort_keys=True)
                for r in todo]
        short = self.llm.ask([("caption_short", *render("caption_short", metadata=m), [])
                              for m in meta])
        imgs, rois = [], []
        for r in todo:
            boxes = r.meta.get("boxes") or []
            imgs.append([_draw_boxes(r.images()[0], boxes, self.work / "synth_images")]
                        if boxes else r.images()[:1])
            rois.append("; ".join(f"box {b[:4]}" + (f" ({b[4]})" if len(b) > 4 else "")
                                  for b in boxes) or "none marked")
        factual = self.llm.ask([("caption_factual", *render("caption_factual", short=s,
                                                            roi=roi), im)
                                for s, roi, im in zip(short, rois, imgs, strict=True)])
        pref = self.llm.ask([
            ("caption_preference", *render(
                "caption_preference", modality=r.modality or "radiology",
                checklist=CHECKLISTS.get(r.modality or "", DEFAULT_CHECKLIST), factual=f),
             r.images()[:1]) for r, f in zip(todo, factual, strict=True)])
        summ = self.llm.ask([("caption_summary", *render("caption_summary", factual=f,
                                                         preference=p), [])
                             for f, p in zip(factual, pref, strict=True)])
        children, dropped = [], []
        for r, s, f, p, fin in zip(todo, short, factual, pref, summ, strict=True):
            if not all((s, f, p, fin)):
                dropped.append(self.child_excl(r, "caption", "a caption step failed"))
                continue
            children.append(self.child(
                r, "caption", conversation("Describe this image in detail.", fin.strip(),
                                           r.images()[:1]),
                task="caption", meta={"steps": {"short": s, "factual": f, "preference": p}}))
        return self._out(records, children, dropped)


# ---- template VQA --------------------------------------------------------------------

TEMPLATES = {
    "modality": "Which imaging modality was used to acquire this image?",
    "organ": "Which organ or body region is shown in this image?",
    "label": "Which finding best describes this image?",
}


class TemplateParams(OpParams):
    fields: list[str] = Field(["modality"], description="labels to ask about: modality, "
                              "organ (meta.organ), label (meta.label)")
    label_space: dict[str, list[str]] = Field(default_factory=dict, description="field -> "
                                              "possible values (modality: the paper's 12)")
    n_options: int = Field(4, ge=2, le=10)
    seed: int = 0
    keep_source: bool = True


@register_op("synth_vqa_template")
class SynthVqaTemplate(MapOp):
    summary = "multiple-choice VQA from labels; distractors from the label space, shuffled"
    Params = TemplateParams

    def _value(self, rec: Record, field: str) -> str | None:
        return rec.modality if field == "modality" else rec.meta.get(field)

    def apply(self, records: list[Record]):  # noqa: ANN201
        children = []
        for rec in records:
            if not rec.images():
                continue
            for field in self.params.fields:
                value = self._value(rec, field)
                space = self.params.label_space.get(field) or (
                    list(MODALITIES) if field == "modality" else [])
                others = sorted({v for v in space if v != value})
                if not value or len(others) < self.params.n_options - 1:
                    continue
                rng = random.Random(f"{self.params.seed}:{rec.id}:{field}")
                options = [value, *rng.sample(others, self.params.n_options - 1)]
                rng.shuffle(options)
                letters = string.ascii_uppercase[: len(options)]
                opts = dict(zip(letters, options, strict=True))
                gold = letters[options.index(value)]
                q = TEMPLATES.get(field, f"What is the {field} of this image?") + "\n" + \
                    "\n".join(f"{k}. {v}" for k, v in opts.items())
                children.append(Record(
                    id=f"{rec.id}/tvqa-{field}", source=rec.source, dataset=rec.dataset,
                    messages=conversation(q, f"{gold}. {value}", rec.images()), task="vqa",
                    modality=rec.modality,
                    meta={"parent": rec.id, "synthesis": self.name, "answer": gold,
                          "options": opts, "question_type": "mcq"}))
        return synth_output(self, records, children, [])


# ---- self-instruct VQA with the "Error" gate -------------------------------------------


@register_op("synth_vqa_self_instruct")
class SynthVqaSelfInstruct(_LlmOp):
    summary = "VQA from (image, caption) by self-instruct; 'Error' (caption misfit) dropped"
    Params = CaptionParams

    def apply(self, records: list[Record]):  # noqa: ANN201
        self._ready()
        todo = [r for r in records if r.images() and r.text("assistant").strip()]
        replies = self.llm.ask([("vqa_self_instruct", *render(
            "vqa_self_instruct", caption=r.text("assistant")), r.images()[:1]) for r in todo])
        children, dropped = [], []
        for r, rep in zip(todo, replies, strict=True):
            if rep is not None and re.fullmatch(r"\W*error\W*", rep.strip(), re.IGNORECASE):
                dropped.append(self.child_excl(r, "sivqa", "model replied Error: the caption "
                                               "does not fit the image", reply=rep.strip()))
                continue
            obj = parse_json_reply(rep)
            wrong = obj.get("wrong_answers") if isinstance(obj, dict) else None
            if not (isinstance(obj, dict) and obj.get("question") and obj.get("answer")
                    and isinstance(wrong, list) and wrong):
                dropped.append(self.child_excl(r, "sivqa", "reply is not the expected JSON",
                                               reply=(rep or "")[:200]))
                continue
            options = [str(obj["answer"]), *[str(w) for w in wrong[:3]]]
            rng = random.Random(r.id)
            rng.shuffle(options)
            letters = string.ascii_uppercase[: len(options)]
            opts = dict(zip(letters, options, strict=True))
            gold = letters[options.index(str(obj["answer"]))]
            q = str(obj["question"]) + "\n" + "\n".join(f"{k}. {v}" for k, v in opts.items())
            children.append(self.child(r, "sivqa", conversation(
                q, f"{gold}. {obj['answer']}", r.images()[:1]),
                meta={"answer": gold, "options": opts, "question_type": "mcq"}))
        return self._out(records, children, dropped)


# ---- chain of thought ------------------------------------------------------------------


def _norm_answer(a: str) -> str:
    a = a.strip().lower()
    m = re.match(r"^\(?([a-j])[.):]?(\s|$)", a)
    return m.group(1) if m else re.sub(r"[^\w ]", "", a).strip()


def gold_of(rec: Record) -> str:
    return str(rec.meta.get("answer") or rec.text("assistant")).strip()


@register_op("synth_cot")
class SynthCot(_LlmOp):
    summary = "chain of thought conditioned on the gold answer + consistency verification"
    Params = CaptionParams

    def apply(self, records: list[Record]):  # noqa: ANN201
        self._ready()
        todo = [r for r in records if r.text("user").strip() and gold_of(r)]
        gen = self.llm.ask([("cot_generate", *render("cot_generate", question=r.text("user"),
                                                     answer=gold_of(r)), r.images()[:1])
                            for r in todo])
        parsed = [parse_json_reply(g) for g in gen]
        stage2 = []
        dropped = []
        for r, obj in zip(todo, parsed, strict=True):
            if not (isinstance(obj, dict) and obj.get("reasoning") and obj.get("answer")):
                dropped.append(self.child_excl(r, "cot", "reply is not {reasoning, answer}"))
            elif _norm_answer(str(obj["answer"])) != _norm_answer(gold_of(r)):
                dropped.append(self.child_excl(r, "cot", "answer differs from gold",
                                               answer=str(obj["answer"]), gold=gold_of(r)))
            elif _norm_answer(gold_of(r)) and len(gold_of(r)) > 3 and \
                    gold_of(r).lower() in str(obj["reasoning"]).lower()[:40]:
                dropped.append(self.child_excl(r, "cot", "reasoning opens by quoting the gold"))
            else:
                stage2.append((r, obj))
        verdicts = self.llm.ask([("cot_verify", *render(
            "cot_verify", question=r.text("user"), reasoning=o["reasoning"],
            answer=o["answer"]), []) for r, o in stage2])
        children = []
        for (r, o), v in zip(stage2, verdicts, strict=True):
            word = (v or "").strip().lower()
            if not word.startswith("consistent"):
                dropped.append(self.child_excl(r, "cot", "verifier: inconsistent trace",
                                               verdict=(v or "")[:40]))
                continue
            answer = f"<think>{o['reasoning']}</think>\n{o['answer']}"
            c = self.child(r, "cot", conversation(r.text("user"), answer, r.images()[:1]),
                           meta={"answer": gold_of(r), "verdict": "consistent"})
            children.append(c)
        return self._out(records, children, dropped)


# ---- OCR -------------------------------------------------------------------------------


def render_question_image(text: str, out_dir: Path, width: int = 768) -> str:
    """The exam question as a white page of black text (PNG, content-addressed)."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=18)
    lines = [w for para in text.splitlines() for w in (textwrap.wrap(para, 70) or [""])]
    height = 24 * len(lines) + 40
    im = Image.new("RGB", (width, max(height, 64)), "white")
    d = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        d.text((20, 20 + 24 * i), line, fill="black", font=font)
    name = hashlib.sha256(text.encode()).hexdigest()[:24] + ".png"
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / name
    if not dst.exists():
        tmp = out_dir / f".{name}.tmp.png"
        im.save(tmp)
        tmp.replace(dst)
    return str(dst)


@register_op("synth_ocr")
class SynthOcr(_LlmOp):
    summary = "exam questions answered with reasoning (exact answer match) rendered as images"
    Params = CaptionParams

    def apply(self, records: list[Record]):  # noqa: ANN201
        self._ready()
        todo = [r for r in records if not r.images() and r.text("user").strip()]
        replies = self.llm.ask([("ocr_answer", *render("ocr_answer", question=r.text("user")),
                                 []) for r in todo])
        children, dropped = [], []
        for r, rep in zip(todo, replies, strict=True):
            m = re.search(r"Answer:\s*\(?([A-J])\b", rep or "")
            gold = _norm_answer(gold_of(r))
            if not m or m.group(1).lower() != gold:
                dropped.append(self.child_excl(r, "ocr", "answer does not match gold exactly",
                                               answer=m.group(1) if m else None, gold=gold))
                continue
            img = render_question_image(r.text("user"), self.work / "synth_images")
            children.append(self.child(r, "ocr", conversation(
                "Answer the question shown in the image.", rep.strip(), [img]),
                meta={"answer": gold_of(r)}))
        return self._out(records, children, dropped)
