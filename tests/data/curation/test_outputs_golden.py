"""The outputs of a run across three segments (image dedup, text dedup, map ops after
them), byte for byte, against a golden file written by the code before the compact
stage files (issue 20: how the intermediate ``.work`` files are encoded must not change
one byte of ``data/*.jsonl``, ``exclusions.jsonl``, the summary, the card, a mixture).

The golden holds each output file's SHA-256 with the run's folder and the repository
replaced by placeholders (they differ between checkouts). ``LINGSHU_WRITE_GOLDEN=1``
rewrites it; do that only on code whose outputs are known right."""

from __future__ import annotations

import hashlib
import json
import os

from curation_helpers import BENCH, REPO, SLAKE, rad_images, write_jsonl, write_recipe

from lingshu.data.curate import load_recipe, run_recipe

GOLDEN = REPO / "tests" / "data" / "curation" / "golden" / "curation_outputs.json"

OPS = [
    {"op": "image_decodable"}, {"op": "image_min_side"}, {"op": "image_phash"},
    {"op": "image_dedup", "scope": "global"},
    {"op": "token_count"},
    {"op": "text_dedup"},
    {"op": "deidentify"},
    {"op": "decontaminate", "data_dir": str(BENCH), "benchmarks": ["slake"]},
    {"op": "modality_label"},
    {"op": "synth_vqa_template"},
]


def _notes() -> list[dict]:
    """Text rows: exact and near copies (text_dedup), PHI (deidentify), repeated ids."""
    body = ("The patient presented with a productive cough and fever for three days; the "
            "chest radiograph showed a right lower lobe consolidation consistent with "
            "community acquired pneumonia, treated with oral amoxicillin. Case {i}.")
    rows = [{"id": f"n{i}", "question": f"Summarise note {i}.", "answer": body.format(i=i)}
            for i in range(12)]
    rows.append({"id": "n3", "question": "Summarise note 3.", "answer": body.format(i=3)})
    rows.append({"id": "n3", "question": "Summarise note 3.",
                 "answer": body.format(i=3).replace("three days", "3 days")})
    rows.append({"id": "phi", "question": "Who called?", "answer":
                 "Mr. John Smith called on 03/04/2021 from 555-123-4567 about his MRN 12345678."})
    return rows


def _inputs(tmp_path) -> list[dict]:
    slake = json.loads((SLAKE / "test.sample40images.json").read_text())[:16]
    write_jsonl(tmp_path / "slake.jsonl", [
        {"id": str(r["qid"]), "image": str(SLAKE / "imgs" / r["img_name"]),
         "conversations": [{"from": "human", "value": "<image>\n" + r["question"]},
                           {"from": "gpt", "value": r["answer"]}]} for r in slake])
    write_jsonl(tmp_path / "caps.jsonl", [
        {"id": f"c{i}", "image": str(p), "task": "caption", "question": "Describe the image.",
         "answer": f"A radiograph number {i} showing the {['chest', 'head', 'abdomen'][i % 3]}"
                   f" with findings described in detail for case {i}."}
        for i, p in enumerate(rad_images(10) + rad_images(2))])
    write_jsonl(tmp_path / "notes.jsonl", _notes())
    return [{"name": "slake-train", "path": "slake.jsonl", "license": "CC BY 4.0"},
            {"name": "captions", "path": "caps.jsonl", "task": "caption", "priority": 10},
            {"name": "notes", "path": "notes.jsonl", "task": "text"}]


def output_digests(out, tmp_path) -> dict[str, str]:
    """Every output file (not ``.work``) -> SHA-256 of its bytes, paths made neutral."""
    digests = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if p.is_file() and rel.parts[0] != ".work":
            data = p.read_bytes().replace(str(tmp_path).encode(), b"<TMP>")
            digests[rel.as_posix()] = hashlib.sha256(
                data.replace(str(REPO).encode(), b"<REPO>")).hexdigest()
    return digests


def test_outputs_equal_the_golden_run(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", _inputs(tmp_path), OPS, shard_size=7,
                          mixtures={"sft": {"sources": {"captions": 1.0, "notes": 1.0}}})
    res = run_recipe(load_recipe(recipe))
    got = output_digests(tmp_path / "out", tmp_path)
    if os.environ.get("LINGSHU_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps({"kept": res.kept, "excluded": res.excluded,
                                      "files": got}, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert (res.kept, res.excluded) == (golden["kept"], golden["excluded"])
    assert got == golden["files"]


def test_control_a_lossy_stage_encoding_fails_the_golden(tmp_path, monkeypatch):
    """Control: stage files that drop what ops measured (``stats``), as an encoding that
    lost a field would, change the outputs and so miss the golden."""
    from lingshu.data.curate import stage_files

    real = stage_files.encode_stage
    monkeypatch.setattr(stage_files, "encode_stage", lambda recs, excl, **kw: real(
        [{**r, "stats": {}} for r in recs], excl, **kw))
    recipe = write_recipe(tmp_path / "r.yaml", _inputs(tmp_path), OPS, shard_size=7,
                          mixtures={"sft": {"sources": {"captions": 1.0, "notes": 1.0}}})
    run_recipe(load_recipe(recipe))
    got = output_digests(tmp_path / "out", tmp_path)
    files = json.loads(GOLDEN.read_text())["files"]
    changed = sorted(k for k in files if got.get(k) != files[k])
    assert "data/shard-00002.jsonl" in changed and "summary.json" in changed
