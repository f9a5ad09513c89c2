"""Lexical report metrics, ours vs pycocoevalcap, on all IU-Xray reports in one run.

    .venv/bin/python bench/report_metrics.py [--limit N]

Pairs: the findings of each IU-Xray report (torchxrayvision's copy) as the prediction, its
impression as the reference; reports lacking either section are skipped (the count used is
printed). Both sides tokenise their inputs (ours in Python, the reference through its Java
PTBTokenizer) and compute BLEU-1..4, ROUGE-L, METEOR and CIDEr-D; each side is timed end to
end, tokenisation included, METEOR's Java start included (ours starts the jar first, so
that its ~7 s of loading overlaps with the Python work, as ``score_reports`` does). Prints both values, their
difference and the time ratio (reference / ours; > 1 means ours is faster).
"""

from __future__ import annotations

import argparse
import sys
import time

KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "meteor", "cider")


def run_ours(preds: list[str], refs: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    times: dict[str, float] = {}
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    from lingshu.eval import REPORT_METRICS, ReportContext, ReportMetricsConfig

    ctx = ReportContext(preds, refs, ReportMetricsConfig())
    metrics = [(name, REPORT_METRICS.get(name)) for name in ("bleu", "rouge_l", "meteor", "cider")]
    # As score_reports does: every metric's prepare first (METEOR's JVM starts loading),
    # then tokenisation and the metrics in order.
    for _, metric in metrics:
        if hasattr(metric, "prepare"):
            metric.prepare(ctx)
    _ = ctx.tok_predictions, ctx.tok_references
    times["tokenize"] = time.perf_counter() - t0
    for name, metric in metrics:
        t = time.perf_counter()
        out.update(metric.compute(ctx).corpus)
        times[name] = time.perf_counter() - t
    ctx.close()
    times["total"] = time.perf_counter() - t0
    return out, times


def run_reference(preds: list[str], refs: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    times: dict[str, float] = {}
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r}] for i, r in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": p}] for i, p in enumerate(preds)})
    times["tokenize"] = time.perf_counter() - t0
    t = time.perf_counter()
    b, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out.update({f"bleu{k + 1}": b[k] for k in range(4)})
    times["bleu"] = time.perf_counter() - t
    t = time.perf_counter()
    out["rouge_l"], _ = Rouge().compute_score(gts, res)
    times["rouge_l"] = time.perf_counter() - t
    t = time.perf_counter()
    m = Meteor()
    out["meteor"], _ = m.compute_score(gts, res)
    times["meteor"] = time.perf_counter() - t
    t = time.perf_counter()
    out["cider"], _ = Cider().compute_score(gts, res)
    times["cider"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    return {k: float(v) for k, v in out.items()}, times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="use only the first N pairs")
    args = ap.parse_args()
    from lingshu.eval import findings_impression_pairs, load_iu_reports

    total = len(load_iu_reports())
    pairs = findings_impression_pairs()[: args.limit]
    print(f"IU-Xray reports: {total}; with findings and impression (used): {len(pairs)}; "
          f"skipped: {total - len(findings_impression_pairs())}")
    preds, refs = [p[1] for p in pairs], [p[2] for p in pairs]
    ours, t_ours = run_ours(preds, refs)
    ref, t_ref = run_reference(preds, refs)
    print(f"\n{'metric':<8} {'ours':>20} {'pycocoevalcap':>20} {'|diff|':>10}")
    worst = 0.0
    for k in KEYS:
        d = abs(ours[k] - ref[k])
        worst = max(worst, d)
        print(f"{k:<8} {ours[k]:>20.16f} {ref[k]:>20.16f} {d:>10.2e}")
    print(f"\n{'time (s)':<10} {'ours':>8} {'reference':>10} {'ratio ref/ours':>15}")
    for t in (t_ours, t_ref):  # METEOR is the same jar on both sides; its JVM time varies
        t["no-meteor"] = t["total"] - t["meteor"]
    for k in ("tokenize", "bleu", "rouge_l", "meteor", "cider", "total", "no-meteor"):
        print(f"{k:<10} {t_ours[k]:>8.2f} {t_ref[k]:>10.2f} {t_ref[k] / t_ours[k]:>15.2f}")
    print(f"\nmax |diff| = {worst:.2e}; ours is {t_ref['total'] / t_ours['total']:.2f}x the reference's speed")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
