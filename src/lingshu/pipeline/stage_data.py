"""Stage data: the curated records cut into each training stage's JSONL, and a leak check.

Curation writes one set of records: the raw captions, the multiple-choice questions its
template op synthesised from their labels, and text-only conversations. Each stage takes
the parts its ``StageData`` names (Lingshu §3: captions for shallow alignment, everything
for deep alignment, instructions for instruction tuning, verifiable questions for GRPO).

Multiple choice is asked the way the evaluation kit's ``strict`` profile asks it
(``mcq_prompt: evaluation``): a model should learn the task, not a prompt it will never see
again. ``rl_prompt_share`` of the questions are instead asked with the GRPO stage's prompt and
answered ``<answer>X</answer>``: a small cold start so that GRPO's format reward has
compliant samples to reinforce (with none, every completion scores 0 and GRPO has no signal).

The leak check hashes every training image (pHash, imagehash) against every image of the
evaluation benchmarks and fails the step when one is within ``max_distance`` bits: the
decontamination op should already have removed them, and this proves that it did.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json, atomic_write_text
from lingshu.inference import conversation, user_message


def read_curated(data_dir: Path) -> list[dict]:
    """Rows of curation's ``data/shard-*.jsonl``, image paths made absolute."""
    rows = []
    for shard in sorted(Path(data_dir).glob("shard-*.jsonl")):
        for line in shard.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            for msg in row.get("messages", []):
                if isinstance(msg.get("content"), list):
                    for part in msg["content"]:
                        if part.get("type") == "image" and not Path(part["image"]).is_absolute():
                            part["image"] = str((shard.parent / part["image"]).resolve())
            rows.append(row)
    return rows


def _images(row: dict) -> list[str]:
    return [p["image"] for m in row.get("messages", []) if isinstance(m.get("content"), list)
            for p in m["content"] if p.get("type") == "image"]


def _user_text(row: dict) -> str:
    for m in row.get("messages", []):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else "\n".join(p.get("text", "") for p in c
                                                           if p.get("type") == "text")
    return ""


def is_mcq(row: dict) -> bool:
    """A multiple-choice record (its meta has question_type mcq, options and the answer)."""
    meta = row.get("meta") or {}
    return bool(meta.get("question_type") == "mcq" and meta.get("options") and meta.get("answer"))


def part_of(row: dict) -> str:
    """caption | mcq (image multiple choice) | text (text-only rows, multiple choice or not)
    | other. Text multiple choice belongs to ``text``: GRPO's rows (``include: [mcq]``)
    stay image rows, since TRL's GRPO cannot batch image and text-only prompts together."""
    if not _images(row):
        return "text"
    if is_mcq(row):
        return "mcq"
    if not (row.get("meta") or {}).get("synthesis"):
        return "caption"
    return "other"


def _question(row: dict) -> str:
    """The synthesised question without its option lines (they are re-rendered)."""
    meta = row["meta"]
    lines = _user_text(row).splitlines()
    opts = {f"{k}. {v}" for k, v in meta["options"].items()}
    return "\n".join(x for x in lines if x.strip() not in opts).strip()


def mcq_evaluation_prompt(question: str, options: dict[str, str]) -> str:
    """The strict profile's multiple-choice prompt (the evaluation kit's own renderer)."""
    from lingshu.eval import Sample, get_profile

    sample = Sample(id="x", benchmark="pipeline", task="mcq", question=question, answer="A",
                    options=dict(options))
    return get_profile("strict").prompt(sample)


def mcq_answer(style: str, gold: str, options: dict[str, str]) -> str:
    """The assistant's target for a multiple-choice turn in ``style`` (``StageData.mcq_answer``).

    ``text_then_letter`` ("head. Answer: C") exists for small language models. SmolLM2-135M,
    given the content in plain text ("This is an X-ray image of the chest." + the strict
    prompt), answered "B" to 57 of 60 demo questions (25% correct): it cannot bind an option
    letter to what it knows in one token, and 60 fine-tuning steps on "C. head" targets
    taught it a letter prior, not the binding (docs/pipeline.md, "What made it learn").
    Naming the content first makes the letter a lookup of a word already in the context.
    Every style is read by the strict profile's ``extract_choice``: the letter, the bare
    option text, and the text after "Answer:".
    """
    if gold not in options:
        raise ValueError(f"gold letter {gold!r} is not one of the options {sorted(options)}")
    text = options[gold]
    return {"letter_text": f"{gold}. {text}", "letter": gold, "text": text,
            "text_then_letter": f"{text}. Answer: {gold}"}[style]


def rl_answer(style: str, gold: str, options: dict[str, str]) -> str:
    """The cold-start target of a question asked with the GRPO prompt: ``<answer>C</answer>``
    for the letter styles, ``<answer>head</answer>`` (the option's text, which the accuracy
    reward accepts) for the styles that name the content first, so that the habit stages 2-3
    teach and the one GRPO reinforces are the same."""
    mcq_answer(style, gold, options)  # the same checks
    return f"<answer>{gold if style in ('letter_text', 'letter') else options[gold]}</answer>"


def rl_prompt(question: str, options: dict[str, str], variant: str = "no_thinking") -> str:
    """The GRPO stage's prompt for this question (the training area's versioned template)."""
    from lingshu.train import get_prompt

    body = question + "\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
    return get_prompt(variant).render(body)


def build_stage_rows(rows: list[dict], spec: Any, seed: int) -> list[dict]:
    """The stage's JSONL rows from curated ``rows`` as ``spec`` (a ``StageData``) says."""
    rng = random.Random(f"{seed}:stage-data")
    out: list[dict] = []
    for row in rows:
        part = part_of(row)
        if part not in spec.include:
            continue
        if not is_mcq(row):
            out.append({"id": row["id"], "messages": row["messages"], "source": row.get("source"),
                        "modality": row.get("modality")})
            continue
        meta = row["meta"]
        options, gold = dict(meta["options"]), str(meta["answer"])
        question, images = _question(row), _images(row)
        if spec.format == "rl":
            text = question + "\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
            out.append({"id": row["id"], "messages": [user_message(text, images)],
                "answer": gold, "question_type": "mcq", "options": options,
                "source": row.get("source"), "modality": row.get("modality")})
            continue
        if spec.rl_prompt_share and rng.random() < spec.rl_prompt_share:
            prompt, answer = rl_prompt(question, options), rl_answer(spec.mcq_answer, gold, options)
        elif spec.mcq_prompt == "evaluation":
            prompt = mcq_evaluation_prompt(question, options)
            answer = mcq_answer(spec.mcq_answer, gold, options)
        else:
            prompt, answer = _user_text(row), (row["messages"][-1]["content"][0]["text"])
        out.append({"id": row["id"], "messages": conversation(prompt, answer, images),
                    "source": row.get("source"), "modality": row.get("modality")})
    out = [dict(r, id=f"{r['id']}#{k}") if spec.repeat > 1 else r
           for k in range(spec.repeat) for r in out]
    rng.shuffle(out)
    return out


def write_stage_data(curated_dir: Path, stage_data: dict[str, Any], out_dir: Path,
                     seed: int) -> dict[str, Any]:
    rows = read_curated(curated_dir)
    if not rows:
        raise UserError(f"{curated_dir}: curation kept no records; see its exclusions.jsonl")
    files, counts = {}, {}
    for stage, spec in stage_data.items():
        stage_rows = build_stage_rows(rows, spec, seed)
        if not stage_rows:
            raise UserError(f"stage_data.{stage}: no curated records of {spec.include}")
        path = out_dir / f"{stage}.jsonl"
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in stage_rows))
        files[stage] = str(path)
        counts[stage] = len(stage_rows)
    parts: dict[str, int] = {}
    for r in rows:
        parts[part_of(r)] = parts.get(part_of(r), 0) + 1
    return {"files": files, "counts": counts, "curated_parts": parts}


def leak_check(train_images: set[str], data_dir: Path, benchmarks: list[tuple[str, str | None]],
               out: Path, max_distance: int = 4) -> dict[str, Any]:
    """pHash distance of every training image to every evaluation image; raise on a leak."""
    import imagehash
    from PIL import Image

    from lingshu.eval import get_benchmark

    def phash(p: str) -> Any:
        with Image.open(p) as im:
            return imagehash.phash(im.convert("RGB"))

    evals: dict[str, str] = {}
    for name, split in benchmarks:
        for s in get_benchmark(name).load(data_dir, split):
            for p in s.images:
                evals.setdefault(p, f"{name}:{s.id}")
    eval_hashes = [(phash(p), p, item) for p, item in sorted(evals.items())]
    if benchmarks and not eval_hashes:
        raise UserError(f"leak check: no evaluation image of {[b for b, _ in benchmarks]} could be "
                        f"loaded from {data_dir}; nothing would prove the split holds")
    closest, leaks = 64, []
    for t in sorted(train_images):
        h = phash(t)
        for eh, ep, item in eval_hashes:
            d = int(h - eh)
            closest = min(closest, d)
            if d <= max_distance:
                leaks.append({"train_image": t, "eval_image": ep, "eval_item": item, "distance": d})
    report = {"train_images": len(train_images), "eval_images": len(eval_hashes),
              "max_distance": max_distance, "closest_distance": closest if eval_hashes else None,
              "leaks": leaks}
    atomic_write_json(out, report)
    if leaks:
        raise UserError(f"{len(leaks)} training images are within {max_distance} pHash bits of "
                        f"evaluation images (see {out}); check the curation recipe's decontaminate op")
    return report
