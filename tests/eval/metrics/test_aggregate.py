from lingshu.eval.metrics.aggregate import latest_records, summarize


def rec(i, correct, *, bench="b", invalid=False, error=None, answer_type=None, cat=None, scores=None):
    return {
        "benchmark": bench,
        "sample_id": f"s{i}",
        "index": i,
        "correct": None if error else correct,
        "invalid": None if error else invalid,
        "error": error,
        "answer_type": answer_type,
        "categories": cat or {},
        "scores": scores or {},
        "usage": {"prompt_tokens": 10, "completion_tokens": 2},
    }


def test_hand_worked_summary():
    records = [
        rec(0, True, answer_type="closed", cat={"organ": "chest"}),
        rec(1, False, invalid=True, answer_type="closed", cat={"organ": "chest"}),
        rec(2, True, answer_type="open", cat={"organ": "head"}, scores={"f1": 0.5}),
        rec(3, False, answer_type="open", cat={"organ": "head"}, scores={"f1": 0.0}),
        rec(4, None, error="HTTP 500", answer_type="open", cat={"organ": "head"}),
    ]
    m = summarize(records, n_resamples=200)
    b = m["benchmarks"]["b"]
    assert (b["n"], b["n_scored"], b["n_errors"], b["n_invalid"]) == (5, 4, 1, 1)
    assert b["accuracy"] == 0.5 and b["invalid_rate"] == 0.25
    assert b["breakdowns"]["answer_type"]["closed"]["accuracy"] == 0.5
    assert b["breakdowns"]["answer_type"]["open"]["n_errors"] == 1
    assert b["breakdowns"]["organ"]["head"]["accuracy"] == 0.5
    assert b["open_scores"]["f1"]["mean"] == 0.25
    assert b["tokens"] == {"prompt": 50, "completion": 10}
    assert m["macro_accuracy"] == 0.5


def test_latest_record_wins_over_earlier_error():
    records = [rec(0, None, error="timeout"), rec(1, True), rec(0, True)]
    latest = latest_records(records)
    assert [(r["sample_id"], r["error"]) for r in latest] == [("s0", None), ("s1", None)]
    assert summarize(records, n_resamples=100)["benchmarks"]["b"]["accuracy"] == 1.0


def test_macro_is_mean_of_benchmarks():
    records = [rec(0, True, bench="a"), rec(0, False, bench="c"), rec(1, False, bench="c")]
    m = summarize(records, n_resamples=100)
    assert m["macro_accuracy"] == (1.0 + 0.0) / 2
