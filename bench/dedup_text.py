"""MinHash near-duplicate removal of >= 100,000 texts: lingshu's text_dedup path vs a
straightforward datasketch MinHashLSH loop with the same parameters.

Corpus (seeded): texts of 30-60 words over a 3,000-word vocabulary, with planted copies
of earlier texts, labelled: exact (case and spacing changed), near (1-3 words replaced or
one appended: Jaccard of word 5-grams about 0.8-0.95), medium (6-12 words replaced:
Jaccard well below 0.8, must be kept).

Baseline: for each text in order, ``MinHash(num_perm)``, ``update_batch`` of its 5-gram
shingles, ``MinHashLSH.query``; removed if anything is returned, else ``insert``.
Ours: the ``text_dedup`` op: exact-hash pass, rensa signatures for all texts in one call,
band keys vectorised with numpy, candidates verified by the signature's Jaccard estimate.
Same threshold (0.8), num_perm (128), shingles and band count (both choose bands the same
way). Removed sets are compared, and both are scored against exact Jaccard on the planted
labels and on every removal (false positive: removed although the exact Jaccard with the
copy that caused it is below the threshold).

    PYTHONPATH=src python bench/dedup_text.py [--n 100000]

``--partitioned SHARD`` also runs the decision as a run does (``curate/partition.py``:
signatures packed per shard of SHARD texts, band edges, components, ``decide`` per
partition, through the local executor with ``--workers``) and checks it removes exactly
what one ``decide`` over everything removes. At a million texts one ``decide`` and the
datasketch loop hold every signature as Python ints (several GB), so the 1M run is
partitioned only:

    PYTHONPATH=src python bench/dedup_text.py --n 1000000 --partitioned 10000 \
        --no-baseline --no-single
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lingshu.data.curate.ops.minhash import shingles  # noqa: E402


def make_corpus(n: int, seed: int = 0) -> tuple[list[str], list[tuple[str, int]]]:
    rng = random.Random(seed)
    syll = ["ra", "to", "me", "li", "cu", "pa", "no", "si", "ve", "da", "ko", "mi", "te",
            "lo", "ga", "ne", "bi", "su", "fe", "ho"]
    vocab = sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 4)))
                    for _ in range(4000)})[:3000]
    texts: list[str] = []
    labels: list[tuple[str, int]] = []  # (kind, index of the original or -1)
    while len(texts) < n:
        r = rng.random()
        if texts and r < 0.08:
            j = rng.randrange(len(texts))
            texts.append("  ".join(texts[j].upper().split()))
            labels.append(("exact", j))
        elif texts and r < 0.18:
            j = rng.randrange(len(texts))
            w = texts[j].split()
            if rng.random() < 0.5:
                w = w + [rng.choice(vocab)]
            else:
                for _ in range(rng.randint(1, 2)):
                    w[rng.randrange(len(w))] = rng.choice(vocab)
            texts.append(" ".join(w))
            labels.append(("near", j))
        elif texts and r < 0.23:
            j = rng.randrange(len(texts))
            w = texts[j].split()
            for _ in range(rng.randint(6, 12)):
                w[rng.randrange(len(w))] = rng.choice(vocab)
            texts.append(" ".join(w))
            labels.append(("medium", j))
        else:
            texts.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(30, 60))))
            labels.append(("original", -1))
    return texts, labels


def jaccard(a: str, b: str, n: int = 5) -> float:
    x, y = set(shingles(a, n)), set(shingles(b, n))
    return len(x & y) / max(len(x | y), 1)


def baseline(texts: list[str], threshold: float, num_perm: int, ngram: int) -> dict[int, int]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    removed: dict[int, int] = {}
    for i, t in enumerate(texts):
        m = MinHash(num_perm=num_perm)
        m.update_batch([s.encode("utf-8") for s in shingles(t, ngram)])
        hits = lsh.query(m)
        if hits:
            removed[i] = min(int(h) for h in hits)
        else:
            lsh.insert(str(i), m)
    return removed


def ours(texts: list[str], threshold: float, num_perm: int, ngram: int) -> dict[int, int]:
    from lingshu.data.curate.ops.text import TextDedup
    from lingshu.data.curate.record import Record

    op = TextDedup(TextDedup.Params(threshold=threshold, num_perm=num_perm, ngram=ngram))
    recs = [Record(id=str(i), source="s", messages=[
        {"role": "user", "content": [{"type": "text", "text": t}]}]) for i, t in enumerate(texts)]
    sigs = op.signatures(recs)
    entries = [{"id": str(i), "source": "s", "dataset": "s", "sig": s}
               for i, s in enumerate(sigs)]
    drop = op.decide(entries, {})
    return {int(k): int(v["statistic"]["matched"]) for k, v in drop.items()}


def partitioned(texts: list[str], shard: int, workers: int, work: Path) -> dict[int, int]:
    """The decision as ``lingshu data run`` takes it, shard files on disk; peak RSS of
    this process (the driver) and of its workers printed."""
    import json
    import resource
    import shutil

    from lingshu.data.curate import parse_recipe
    from lingshu.data.curate.executors import make_executor
    from lingshu.data.curate.partition import decide_partitioned, pack_shard, sig_file, write_npz
    from lingshu.data.curate.record import Record
    from lingshu.data.curate.shards import decision_file, recipe_json, segments

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "in.jsonl").write_text("")
    recipe = parse_recipe({"name": "b", "inputs": [{"name": "s", "path": "in.jsonl"}],
                           "ops": [{"op": "text_dedup"}], "output": {"dir": str(work)}}, work)
    [(_, op)] = segments(recipe.build_ops())
    stage = work / "stage"
    t = time.perf_counter()
    n = 0
    for lo in range(0, len(texts), shard):
        recs = [Record(id=str(i), source="s", messages=[{"role": "user", "content": [
            {"type": "text", "text": texts[i]}]}]) for i in range(lo, min(lo + shard, len(texts)))]
        write_npz(sig_file(stage, n), pack_shard(op, recs, op.signatures(recs)))
        n += 1
    t_sig = time.perf_counter() - t
    execute = make_executor("local", [op], workers=workers)
    try:
        common = {"segment": 0, "recipe": recipe_json(recipe), "base_dir": str(work)}
        dropped = decide_partitioned(op, stage, n, common, execute.run)
    finally:
        execute.close()
    t_all = time.perf_counter() - t
    removed = {}
    for i in range(n):
        for k, v in json.loads(decision_file(stage / "decisions.json", i).read_text())[
                "drop"].items():
            removed[int(k)] = int(v["statistic"]["matched"])
    assert dropped == len(removed)
    sig_mb = sum(f.stat().st_size for f in (stage / "sig").iterdir()) / 2**20
    ru = resource.getrusage
    print(f"partitioned ({n} shards of {shard}, {workers} workers): {t_all:.1f} s "
          f"(signatures {t_sig:.1f} s, decision {t_all - t_sig:.1f} s; "
          f"{len(texts) / t_all:.0f} docs/s); signature files {sig_mb:.0f} MB "
          f"({sig_mb * 2**20 / len(texts):.0f} B/text); peak RSS driver "
          f"{ru(resource.RUSAGE_SELF).ru_maxrss // 1024} MB, workers "
          f"{ru(resource.RUSAGE_CHILDREN).ru_maxrss // 1024} MB; "
          f"edges {json.loads((stage / 'parts' / 'done.json').read_text())}")
    return removed


def score(name: str, removed: dict[int, int], texts, labels, threshold: float) -> None:
    near = [i for i, (k, _) in enumerate(labels) if k in ("exact", "near")
            and jaccard(texts[i], texts[labels[i][1]]) >= threshold]
    medium = [i for i, (k, _) in enumerate(labels) if k == "medium"]
    fn = sum(i not in removed for i in near)
    kept_medium = sum(i not in removed for i in medium)
    fp = sum(jaccard(texts[i], texts[j]) < threshold for i, j in removed.items())
    print(f"  {name}: removed {len(removed)}; planted copies with exact Jaccard >= "
          f"{threshold}: {len(near)}, missed {fn} (FN rate {fn / max(len(near), 1):.4f}); "
          f"removals whose exact Jaccard with the matched text < {threshold}: {fp} "
          f"(FP rate {fp / max(len(removed), 1):.4f}); medium edits kept {kept_medium}/"
          f"{len(medium)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--partitioned", type=int, metavar="SHARD",
                    help="also run the partitioned decision with shards of SHARD texts")
    ap.add_argument("--workers", type=int, default=2, help="for --partitioned")
    ap.add_argument("--no-baseline", action="store_true", help="skip datasketch")
    ap.add_argument("--no-single", action="store_true", help="skip one decide over all")
    ap.add_argument("--work", type=Path, default=Path("/tmp/lingshu-bench-dedup-text"))
    a = ap.parse_args()
    texts, labels = make_corpus(a.n)
    print(f"{len(texts)} texts; threshold {a.threshold}, num_perm {a.num_perm}, "
          f"word {a.ngram}-grams")
    b = o = None
    if not a.no_baseline:
        t = time.perf_counter()
        b = baseline(texts, a.threshold, a.num_perm, a.ngram)
        tb = time.perf_counter() - t
        print(f"datasketch loop: {tb:.2f} s ({len(texts) / tb:.0f} docs/s)")
    if not a.no_single:
        t = time.perf_counter()
        o = ours(texts, a.threshold, a.num_perm, a.ngram)
        to = time.perf_counter() - t
        print(f"lingshu:         {to:.2f} s ({len(texts) / to:.0f} docs/s)")
    if b is not None and o is not None:
        print(f"ratio: {tb / to:.2f}x")
        print(f"removed sets identical: {set(o) == set(b)}; only ours {len(set(o) - set(b))}, "
              f"only datasketch {len(set(b) - set(o))}")
    if a.partitioned:
        p = partitioned(texts, a.partitioned, a.workers, a.work)
        if o is not None:
            print(f"partitioned decision identical to one decide: {p == o}")
            if p != o:
                sys.exit(1)
        score("lingshu partitioned", p, texts, labels, a.threshold)
    if o is not None:
        score("lingshu", o, texts, labels, a.threshold)
    if b is not None:
        score("datasketch", b, texts, labels, a.threshold)


if __name__ == "__main__":
    main()
