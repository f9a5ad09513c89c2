"""`eval compare` pairs samples by content (question + image bytes) when the two runs'
ids differ (release qids vs a Hugging Face export's ``hf-test-N``), says so, and says how
many disagreements it did not print."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from lingshu.cli.eval import app
from lingshu.eval.compare import compare_runs
from lingshu.eval.config import EvalConfig
from lingshu.eval.runner import run_eval


def _run(data_dir, tmp_path, name, limit=24):
    cfg = EvalConfig(
        benchmarks=["vqa-rad"], split="train", data_dir=data_dir, backend="dummy",
        cache_path=tmp_path / "cache.sqlite", bootstrap_resamples=100, limit=limit,
    )
    run_eval(cfg, tmp_path / name, progress=False)
    return tmp_path / name


def _rewrite(run, fn):
    path = run / "samples" / "vqa-rad.jsonl"
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(fn(i, r)) + "\n" for i, r in enumerate(recs)))
    return recs


def test_compare_matches_by_question_and_image_when_ids_differ(data_dir, tmp_path):
    a = _run(data_dir, tmp_path, "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    flipped = set()

    def to_export(i, r):
        # the export's ids and row order; every third answer judged the other way
        r = dict(r, sample_id=f"hf-test-{100 - i}", index=100 - i)
        if i % 3 == 0:
            r["correct"] = not r["correct"]
            flipped.add(r["question"])
        return r

    recs = _rewrite(b, to_export)
    (d,) = compare_runs(a, b)
    assert d.matched_by == "content"
    assert d.n_common == len(recs)
    assert len(d.disagreements) == len(flipped)
    assert all(x["sample_id_b"].startswith("hf-test-") for x in d.disagreements)


def test_compare_by_id_when_ids_match(data_dir, tmp_path):
    a = _run(data_dir, tmp_path, "a", limit=8)
    (d,) = compare_runs(a, a)
    assert d.matched_by == "id" and d.n_common == 8 and d.disagreements == []


def test_compare_cli_says_matching_and_how_many_not_shown(data_dir, tmp_path):
    a = _run(data_dir, tmp_path, "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    _rewrite(b, lambda i, r: dict(r, sample_id=f"hf-test-{i}", correct=not r["correct"]))
    res = CliRunner().invoke(app, ["compare", str(a), str(b), "--show", "3"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "matched by content" in out
    assert "21 more disagreements not shown" in out
