"""Metrics of a run, computed from its per-sample records alone.

Because nothing else goes in, a resumed run, a merged set of shards and an uninterrupted
run give identical metrics for identical records. Records with a backend ``error`` are
excluded from accuracy and counted separately: a failed call is never a wrong answer.
Likewise a judged record whose judge failed (``judge.verdict`` None) is excluded and
counted as ``n_judge_errors``; where the judge decided, ``correct`` is its verdict, and the
benchmark gets a ``judge`` block comparing it with the rule-based verdicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from lingshu.eval.judge.agreement import judge_failed, rule_judge_agreement, rule_verdict
from lingshu.eval.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_mean
from lingshu.eval.metrics.text import OPEN_SCORE_KEYS



def latest_records(records: Iterable[dict]) -> list[dict]:
    """One record per (benchmark, sample_id): the last written wins (a retried error is
    superseded by its later answer), ordered by (benchmark, index)."""
    last: dict[tuple[str, str], dict] = {}
    for r in records:
        last[(r["benchmark"], r["sample_id"])] = r
    return sorted(last.values(), key=lambda r: (r["benchmark"], r["index"]))


def _accuracy_block(recs: list[dict], label: str, n_resamples: int, seed: int) -> dict[str, Any]:
    answered = [r for r in recs if r.get("error") is None]
    scored = [r for r in answered if not judge_failed(r)]
    est = bootstrap_mean(
        [1.0 if r["correct"] else 0.0 for r in scored],
        label=label,
        n_resamples=n_resamples,
        seed=seed,
    )
    n_invalid = sum(1 for r in scored if r.get("invalid"))
    return {
        "n": len(recs),
        "n_scored": len(scored),
        "n_errors": len(recs) - len(answered),
        "n_judge_errors": len(answered) - len(scored),
        "n_invalid": n_invalid,
        "invalid_rate": (n_invalid / len(scored)) if scored else None,
        "accuracy": est.mean if scored else None,
        "ci_low": est.low if scored else None,
        "ci_high": est.high if scored else None,
    }


def summarize_reports(
    benchmark: str,
    recs: list[dict],
    *,
    metrics: list[str] | None,
    config: Any,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    """Report-generation metrics (corpus values with bootstrap CIs) over the answered
    studies; metrics whose weights or tools are missing are listed as unavailable."""
    from lingshu.eval.metrics.reports import bootstrap_report_ci, score_reports

    scored = [r for r in recs if r.get("error") is None]
    out: dict[str, Any] = {
        "n": len(recs),
        "n_scored": len(scored),
        "n_errors": len(recs) - len(scored),
        "n_invalid": sum(1 for r in scored if not (r.get("response") or "").strip()),
        "accuracy": None,
        "ci_low": None,
        "ci_high": None,
    }
    out["invalid_rate"] = out["n_invalid"] / len(scored) if scored else None
    scores = score_reports(
        [r["response"] for r in scored], [r["gold"] for r in scored], metrics, config
    )
    cis = bootstrap_report_ci(scores, n_resamples=n_resamples, seed=seed, label=benchmark)
    out["report_metrics"] = {
        k: {"value": v, **({"ci_low": cis[k].low, "ci_high": cis[k].high} if k in cis else {})}
        for k, v in sorted(scores.corpus.items())
    }
    out["unavailable"] = dict(scores.unavailable)
    out["breakdowns"] = {}
    out["tokens"] = _tokens(recs)
    return out


def _tokens(recs: list[dict]) -> dict[str, int]:
    return {
        "prompt": sum(int((r.get("usage") or {}).get("prompt_tokens", 0)) for r in recs),
        "completion": sum(int((r.get("usage") or {}).get("completion_tokens", 0)) for r in recs),
    }


def summarize_benchmark(
    benchmark: str,
    recs: list[dict],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    report_metrics: list[str] | None = None,
    report_config: Any = None,
) -> dict[str, Any]:
    """Overall accuracy with CI, invalid rate, errors, per-category breakdowns and the
    mean open-answer scores (with CIs) of one benchmark's records; report-generation
    benchmarks get their report metrics instead of accuracy."""
    if recs and all(r.get("task") == "report" for r in recs):
        return summarize_reports(
            benchmark, recs, metrics=report_metrics, config=report_config,
            n_resamples=n_resamples, seed=seed,
        )  # fmt: skip
    out = _accuracy_block(recs, benchmark, n_resamples, seed)
    breakdowns: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in recs:
        cats = r.get("categories") or {}
        if r.get("answer_type") and "answer_type" not in cats:
            groups["answer_type"][r["answer_type"]].append(r)
        for key, value in cats.items():
            if value is not None and value != "":
                groups[key][str(value)].append(r)
    for key in sorted(groups):
        breakdowns[key] = {
            value: _accuracy_block(sub, f"{benchmark}/{key}={value}", n_resamples, seed)
            for value, sub in sorted(groups[key].items())
        }
    out["breakdowns"] = breakdowns
    scored_open = [r for r in recs if r.get("error") is None and r.get("scores")]
    if scored_open:
        out["open_scores"] = {
            k: bootstrap_mean(
                [float(r["scores"][k]) for r in scored_open if k in r["scores"]],
                label=f"{benchmark}/score={k}",
                n_resamples=n_resamples,
                seed=seed,
            ).to_dict()
            for k in OPEN_SCORE_KEYS
            if any(k in r["scores"] for r in scored_open)
        }
    out["tokens"] = _tokens(recs)
    if any("judge" in r for r in recs):
        out["judge"] = summarize_judge(recs)
    return out


def summarize_judge(recs: list[dict]) -> dict[str, Any]:
    """The judge's side of one benchmark: how many samples it decided and failed on, the
    accuracy with rule-based verdicts against the accuracy with the judge's (both over the
    samples that count for accuracy), Cohen's kappa between the two over the judged
    samples, and every disagreement."""
    answered = [r for r in recs if r.get("error") is None]
    judged = [r for r in answered if "judge" in r]
    failed = [r for r in judged if judge_failed(r)]
    scored = [r for r in answered if not judge_failed(r)]
    agreement = rule_judge_agreement(judged)
    unparseable = sum(1 for r in failed if (r["judge"] or {}).get("raw") is not None)
    models = sorted({f"{r['judge'].get('model')} ({r['judge'].get('prompt_version')})" for r in judged})
    return {
        "judges": models,
        "n_in_scope": len(judged),
        "n_judged": len(judged) - len(failed),
        "n_judge_errors": len(failed),
        "n_judge_errors_request": len(failed) - unparseable,
        "n_judge_errors_unparseable": unparseable,
        "n_cached": sum(1 for r in judged if (r["judge"] or {}).get("cached")),
        "accuracy_rule": _mean([rule_verdict(r) for r in scored]),
        "accuracy_judge": _mean([r.get("correct") for r in scored]),
        "kappa": agreement.kappa,
        "observed_agreement": agreement.observed,
        "expected_agreement": agreement.expected,
        "n_disagreements": len(agreement.disagreements),
        "disagreements": agreement.disagreements,
        "errors": [
            {"sample_id": r["sample_id"], "index": r.get("index"), "error": r["judge"].get("error")}
            for r in failed
        ],
    }


def _mean(values: list[Any]) -> float | None:
    return sum(1.0 for v in values if v) / len(values) if values else None


def summarize(
    records: Iterable[dict],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    report_metrics: list[str] | None = None,
    report_config: Any = None,
) -> dict[str, Any]:
    """``{"benchmarks": {name: summary}, "macro_accuracy": mean of benchmark accuracies}``."""
    by_bench: dict[str, list[dict]] = defaultdict(list)
    for r in latest_records(records):
        by_bench[r["benchmark"]].append(r)
    benches = {
        name: summarize_benchmark(
            name, recs, n_resamples=n_resamples, seed=seed,
            report_metrics=report_metrics, report_config=report_config,
        )  # fmt: skip
        for name, recs in sorted(by_bench.items())
    }
    accs = [b["accuracy"] for b in benches.values() if b["accuracy"] is not None]
    return {
        "benchmarks": benches,
        "macro_accuracy": (sum(accs) / len(accs)) if accs else None,
        "bootstrap": {"resamples": n_resamples, "seed": seed, "level": 0.95},
    }
