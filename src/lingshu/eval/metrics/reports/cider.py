"""CIDEr-D exactly as the COCO caption evaluation computes it (pycocoevalcap ``Cider``).

TF-IDF vectors of 1..4-grams, with document frequencies counted over the *references of the
evaluated corpus* (so a score depends on the whole set scored with it), log(number of
samples) as the IDF numerator, clipping of hypothesis weights at the reference weights,
a Gaussian length penalty with sigma 6, the mean over n and over references, times 10.
Two details of the reference are kept because published numbers contain them: the length
used by the penalty is the number of *bigrams* of a caption, and an n-gram that no
reference contains gets the weight log(N) (its document frequency is floored at 1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from lingshu.eval.metrics.reports._ngrams import ngram_counts

SIGMA = 6.0  # pycocoevalcap cider.py default
N = 4

_Vec = tuple[list[dict[tuple[str, ...], float]], list[float], int]


def document_frequencies(refs: Sequence[Sequence[str]]) -> Counter[tuple[str, ...]]:
    """For each n-gram, the number of samples whose references contain it."""
    df: Counter[tuple[str, ...]] = Counter()
    for rs in refs:
        df.update({g for r in rs for g in ngram_counts(r.split(), N)})
    return df


def _vector(counts: Counter[tuple[str, ...]], df: Counter[tuple[str, ...]], log_n: float) -> _Vec:
    vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(N)]
    norm = [0.0] * N
    length = 0
    for g, tf in counts.items():
        k = len(g) - 1
        d = df.get(g, 0)
        w = float(tf) * (log_n - (math.log(d) if d > 1 else 0.0))
        vec[k][g] = w
        norm[k] += w * w
        if k == 1:
            length += tf  # the reference's "length" counts bigrams
    return vec, [math.sqrt(x) for x in norm], length


def _sim(h: _Vec, r: _Vec, sigma: float) -> float:
    vh, nh, lh = h
    vr, nr, lr = r
    penalty = math.exp(-((lh - lr) ** 2) / (2 * sigma**2))
    total = 0.0
    for k in range(N):
        rk = vr[k]
        val = 0.0
        for g, w in vh[k].items():
            wr = rk.get(g)
            if wr:
                val += (w if w < wr else wr) * wr
        if nh[k] != 0 and nr[k] != 0:
            val /= nh[k] * nr[k]
        total += val * penalty
    return total / N


def cider_d(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], sigma: float = SIGMA
) -> tuple[float, list[float]]:
    """(corpus CIDEr-D, per-sample CIDEr-D) of tokenised hypotheses and references."""
    df = document_frequencies(refs)
    log_n = math.log(float(len(refs)))
    scores = []
    for hyp, rs in zip(hyps, refs, strict=True):
        hv = _vector(ngram_counts(hyp.split(), N), df, log_n)
        s = sum(_sim(hv, _vector(ngram_counts(r.split(), N), df, log_n), sigma) for r in rs)
        scores.append(s / len(rs) * 10.0)
    return (sum(scores) / len(scores) if scores else float("nan")), scores


class CiderResampler:
    """Corpus CIDEr-D of bootstrap resamples, document frequencies recomputed on each.

    With one reference per sample, every term of CIDEr-D is a sum over n-grams of a fixed
    per-sample quantity times idf(g)^2 (the clipped product min(h, r) * r, and the squared
    norms), so a resample only needs the new document frequencies and three weighted sums,
    which numpy does for many resamples at once. A study drawn k times counts k times in
    the document frequencies and in the mean, as if the reference tool had been run on the
    resampled list.
    """

    def __init__(self, hyps: Sequence[str], refs: Sequence[str], sigma: float = SIGMA) -> None:
        self.n = len(refs)
        vocab: dict[tuple[str, ...], int] = {}
        pres_r, pres_c = [], []
        groups: dict[str, tuple[list[int], list[int], list[float]]] = {
            "num": ([], [], []), "hn": ([], [], []), "rn": ([], [], [])
        }  # fmt: skip
        penalty = []
        for i, (h, r) in enumerate(zip(hyps, refs, strict=True)):
            hc, rc = ngram_counts(h.split(), N), ngram_counts(r.split(), N)
            for g in rc:
                pres_r.append(i)
                pres_c.append(vocab.setdefault(g, len(vocab)))
            for name, counts in (("hn", hc), ("rn", rc)):
                rows, cols, vals = groups[name]
                for g, c in counts.items():
                    rows.append(i * N + len(g) - 1)
                    cols.append(vocab.setdefault(g, len(vocab)))
                    vals.append(float(c * c))
            rows, cols, vals = groups["num"]
            for g, c in hc.items():
                rcount = rc.get(g)
                if rcount:
                    rows.append(i * N + len(g) - 1)
                    cols.append(vocab[g])
                    vals.append(float(min(c, rcount) * rcount))
            lh = sum(c for g, c in hc.items() if len(g) == 2)
            lr = sum(c for g, c in rc.items() if len(g) == 2)
            penalty.append(math.exp(-((lh - lr) ** 2) / (2 * sigma**2)))
        self.vocab_size = len(vocab)
        order = np.argsort(pres_c, kind="stable")
        self._pres_rows = np.asarray(pres_r, dtype=np.int64)[order]
        pc = np.asarray(pres_c, dtype=np.int64)[order]
        self._pres_cols, self._pres_starts = np.unique(pc, return_index=True)
        self._groups = {}
        for name, (rows, cols, vals) in groups.items():
            r = np.asarray(rows, dtype=np.int64)
            o = np.argsort(r, kind="stable")
            r = r[o]
            uniq, starts = np.unique(r, return_index=True)
            self._groups[name] = (uniq, starts, np.asarray(cols, dtype=np.int64)[o], np.asarray(vals)[o])
        self._penalty = np.asarray(penalty)

    def _sums(self, name: str, idf2: np.ndarray) -> np.ndarray:
        uniq, starts, cols, vals = self._groups[name]
        out = np.zeros((idf2.shape[0], self.n * N))
        if len(cols):
            out[:, uniq] = np.add.reduceat(idf2[:, cols] * vals, starts, axis=1)
        return out.reshape(idf2.shape[0], self.n, N)

    def __call__(self, weights: np.ndarray, chunk: int = 8) -> dict[str, np.ndarray]:
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        log_n = math.log(float(self.n))
        result = np.empty(len(weights))
        for s in range(0, len(weights), chunk):
            w = weights[s : s + chunk]
            df = np.zeros((len(w), self.vocab_size))
            if len(self._pres_rows):
                df[:, self._pres_cols] = np.add.reduceat(w[:, self._pres_rows], self._pres_starts, axis=1)
            idf2 = (log_n - np.log(np.maximum(df, 1.0))) ** 2
            num, hn, rn = self._sums("num", idf2), self._sums("hn", idf2), self._sums("rn", idf2)
            denom = np.sqrt(hn) * np.sqrt(rn)
            val = np.where(denom > 0, num / np.where(denom > 0, denom, 1.0), num)
            per = val.mean(axis=2) * self._penalty * 10.0  # (chunk, n)
            result[s : s + chunk] = (per * w).sum(axis=1) / w.sum(axis=1)
        return {"cider": result}
