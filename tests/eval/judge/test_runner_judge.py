"""The judge inside ``lingshu eval run``: bundled SLAKE data, a scripted model, the stub
judge over real HTTP. Verdicts land in records, accuracy uses them, judge errors are
excluded and counted, resume and cache never ask twice, a dead judge leaves a finished run
that a rerun completes."""

from __future__ import annotations

import json

import pytest
from judge_stub import stub_verdict

from lingshu.eval import rundir
from lingshu.inference import Backend
from lingshu.eval.config import EvalConfig
from lingshu.eval.metrics.aggregate import latest_records
from lingshu.eval.prompts import get_profile
from lingshu.eval.runner import run_eval
from lingshu.inference import Response
from lingshu.eval.types import Sample

# The first 12 English SLAKE test questions of the bundled sample (ids, golds and answer
# types as in data/benchmarks/slake/test.sample40images.json) and the model's answers.
ANSWERS = {
    "11994": "X-Ray",  # gold X-Ray (open): rule right, judge right
    "11995": "chest.",  # gold Chest (open): rule wrong (exact match keeps the "."), judge right
    "11996": "yes",  # gold Yes (closed): both right
    "11997": "heart",  # gold Lung (open): both wrong
    "11998": "I ramble",  # gold Cardiomegaly (open): the judge answers garbage -> judge error
    "11999": "center",  # gold Center (open): both right
    "12000": "lung",  # gold Heart (closed): both wrong
    "12009": None,  # gold X-Ray (open): the model's request fails, never judged
    "12010": "ct",  # gold Chest (open): both wrong
    "12011": "Yes.",  # gold Yes (closed): both right
    "12012": "Lung",  # gold Lung (open): both right
    "12013": "heart",  # gold Cardiomegaly (open): both wrong
}
# Over the 10 samples that count (12 minus the backend error and the judge error): judge
# right 6 (11994 11995 11996 11999 12011 12012), rules right 5 (all but 11995).


class Model(Backend):
    name = "scripted-model"

    def fingerprint(self):
        return {"name": "scripted-model"}

    def generate(self, requests, params):
        return [Response(error="model down") if ANSWERS[r.id] is None else Response(text=ANSWERS[r.id])
                for r in requests]


def cfg(data_dir, tmp_path, url, profile="medevalkit", **judge):
    return EvalConfig(
        benchmarks=["slake"], data_dir=data_dir, limit=12, profile=profile, backend="dummy",
        cache_path=tmp_path / "cache.sqlite", bootstrap_resamples=200,
        judge={"model": "stub-judge", "base_url": url, "concurrency": 2, "max_retries": 0,
               "backoff_s": 0.01, "backoff_max_s": 0.02, **judge},
    )  # fmt: skip


def latest(run):
    return {r["sample_id"]: r for r in latest_records(rundir.load_records(run))}


def lines(run):
    return len((run / "samples" / "slake.jsonl").read_text().splitlines())


def test_medevalkit_run_with_judge(data_dir, tmp_path, stub_judge):
    run = tmp_path / "run"
    res = run_eval(cfg(data_dir, tmp_path, stub_judge.url), run, backend=Model(), progress=False)
    recs = latest(run)
    assert list(recs) == list(ANSWERS)
    profile = get_profile("medevalkit")
    for sid, r in recs.items():
        if ANSWERS[sid] is None:
            assert r["error"] == "model down" and "judge" not in r
            continue
        sample = Sample(id=sid, benchmark="slake", task="vqa", question=r["question"],
                        answer=r["gold"], answer_type=r["answer_type"])
        assert r["rule_correct"] == profile.score(sample, ANSWERS[sid]).correct
        expected = {"Verdict: correct\nSame answer.": True, "Verdict: incorrect\nDifferent answer.": False}
        verdict = expected.get(stub_verdict(r["gold"], ANSWERS[sid]))
        assert r["judge"]["verdict"] is verdict and r["correct"] is verdict
        assert r["judge"]["model"] == "stub-judge" and r["judge"]["prompt_version"] == "judge-v1"
        assert r["judge"]["cached"] is False
    assert recs["11998"]["judge"]["error"].startswith("unparseable judge answer")
    assert recs["11995"]["rule_correct"] is False and recs["11995"]["correct"] is True

    b = res.metrics["benchmarks"]["slake"]
    # judged: 10 verdicts, 1 garbage; 1 backend error; accuracies as counted under ANSWERS.
    assert (b["n"], b["n_scored"], b["n_errors"], b["n_judge_errors"]) == (12, 10, 1, 1)
    j = b["judge"]
    assert (j["n_in_scope"], j["n_judged"], j["n_judge_errors"]) == (11, 10, 1)
    assert (j["n_judge_errors_request"], j["n_judge_errors_unparseable"]) == (0, 1)
    assert b["accuracy"] == pytest.approx(0.6) and j["accuracy_judge"] == pytest.approx(0.6)
    assert j["accuracy_rule"] == pytest.approx(0.5)
    # pairs agree on 9 of 10; p_rule 0.5, p_judge 0.6, p_e 0.5 -> kappa (0.9-0.5)/0.5 = 0.8
    assert j["kappa"] == pytest.approx(0.8) and j["n_disagreements"] == 1
    assert j["disagreements"][0]["sample_id"] == "11995"
    assert j["errors"] == [{"sample_id": "11998", "index": 4, "error": recs["11998"]["judge"]["error"]}]
    assert stub_judge.n_requests == 11

    summary = (run / "summary.md").read_text()
    assert "## LLM judge" in summary and "| slake | 10 | 1 (0 failed, 1 unparseable) | 50.0 | 60.0 | 0.800 | 1 |" in summary
    assert "### slake: rule vs judge disagreements" in summary and "11995" in summary
    assert "| slake | 12 | 60.0 [" in summary and "| 1 (+1 judge) |" in summary
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["judge"]["requests"] == 11 and manifest["judge"]["scope"] == "medevalkit"
    assert manifest["judge"]["api_key_set"] is False

    # Resume: nothing is judged twice; the garbage answer is final. (The failed model
    # request is retried, as always, and fails again: its record is replaced, not judged,
    # and the file keeps one line per sample.)
    run_eval(cfg(data_dir, tmp_path, stub_judge.url), run, backend=Model(), progress=False)
    assert stub_judge.n_requests == 11 and lines(run) == 12
    failed = [json.loads(x) for x in (run / "samples" / "slake.jsonl").read_text().splitlines()]
    assert [r for r in failed if r["error"] and "judge" not in r]

    # A new run directory with the same cache: every verdict from the judge cache.
    other = tmp_path / "other"
    res2 = run_eval(cfg(data_dir, tmp_path, stub_judge.url), other, backend=Model(), progress=False)
    assert stub_judge.n_requests == 11
    assert all(r["judge"]["cached"] for r in latest(other).values() if "judge" in r)
    assert res2.metrics["benchmarks"]["slake"]["accuracy"] == b["accuracy"]
    assert res2.stats["slake"].judge_cache_hits == 11 and res2.stats["slake"].judge_requests == 0


def test_dead_judge_gives_errors_then_rerun_fills_them_in(data_dir, tmp_path, stub_judge):
    run = tmp_path / "run"
    stub_judge.down_after = 3  # dies after 3 answers
    c = cfg(data_dir, tmp_path, stub_judge.url, concurrency=1, give_up_after=2)
    res = run_eval(c, run, backend=Model(), progress=False)
    recs = latest(run)
    judged = [r for r in recs.values() if "judge" in r]
    answered = [r for r in judged if r["judge"]["raw"] is not None]
    failed = [r for r in judged if r["judge"]["error"] and r["judge"]["raw"] is None]
    assert len(answered) == 3 and len(failed) == 8
    # Chunks of concurrency x 4 = 4: the first gets 3 answers and 1 failure, the second 4
    # failures; the breaker (2 in a row) is checked between chunks, so the last 3 are not sent.
    reasons = [r["judge"]["error"] for r in failed]
    assert sum(e.startswith("judge request failed: HTTP 503") for e in reasons) == 5
    assert sum(e.startswith("judge not asked: its last 5 requests failed") for e in reasons) == 3
    assert all(r["correct"] is None and r["rule_correct"] is not None for r in failed)
    b = res.metrics["benchmarks"]["slake"]
    garbage = int(recs["11998"] in answered)
    assert b["n_judge_errors"] == 8 + garbage and b["n_scored"] == 11 - 8 - garbage
    assert b["judge"]["n_judge_errors_request"] == 8
    assert "judge request failed: HTTP 503" in (run / "summary.md").read_text()
    assert stub_judge.n_requests == 8  # 3 answers, 5 failures, then it stopped asking

    stub_judge.down, stub_judge.down_after = False, None
    res = run_eval(c, run, backend=Model(), progress=False)
    assert stub_judge.n_requests == 8 + 8  # only the failed ones are asked again
    b = res.metrics["benchmarks"]["slake"]
    assert (b["n_scored"], b["n_judge_errors"], b["judge"]["n_judge_errors_request"]) == (10, 1, 0)
    assert b["accuracy"] == pytest.approx(0.6)


def test_strict_default_scope_judges_open_questions_only(data_dir, tmp_path, stub_judge):
    run = tmp_path / "run"
    res = run_eval(cfg(data_dir, tmp_path, stub_judge.url, profile="strict"), run, backend=Model(), progress=False)
    recs = latest(run)
    for r in recs.values():
        judged = "judge" in r
        assert judged is (r["answer_type"] == "open" and r["error"] is None)
    assert json.loads((run / "config.json").read_text())["judge"]["scope"] == "open"
    assert res.metrics["benchmarks"]["slake"]["judge"]["n_in_scope"] == 8


def test_all_vqa_scope_in_strict(data_dir, tmp_path, stub_judge):
    run = tmp_path / "run"
    c = cfg(data_dir, tmp_path, stub_judge.url, profile="strict", scope="all-vqa")
    res = run_eval(c, run, backend=Model(), progress=False)
    assert res.metrics["benchmarks"]["slake"]["judge"]["n_in_scope"] == 11


def test_no_cache_asks_again(data_dir, tmp_path, stub_judge):
    c = cfg(data_dir, tmp_path, stub_judge.url).model_copy(update={"use_cache": False})
    run_eval(c, tmp_path / "a", backend=Model(), progress=False)
    run_eval(c, tmp_path / "b", backend=Model(), progress=False)
    assert stub_judge.n_requests == 22


def test_api_key_is_never_written(data_dir, tmp_path, stub_judge):
    run = tmp_path / "run"
    c = cfg(data_dir, tmp_path, stub_judge.url, api_key="sk-secret-123")
    run_eval(c, run, backend=Model(), progress=False)
    assert stub_judge.auth[0] == "Bearer sk-secret-123"
    for f in run.rglob("*"):
        if f.is_file():
            assert "sk-secret-123" not in f.read_text(errors="replace"), f
    saved = rundir.load_config(run)
    assert saved.judge.api_key is None and saved.judge.api_key_set is True
    assert saved.identity_hash() == c.identity_hash()  # resumable without the key
