"""Decontamination against what is evaluated: the benchmarks' evaluation splits.

Why: Med-R1 trained on part of the OmniMedVQA test set without noticing. A training
sample is removed when one of its images matches a benchmark image by pHash (within
``image_threshold`` bits), when its text shares a word ``ngram`` with a benchmark
question (with its context and options), or when its answer shares one with a benchmark
answer long enough to hold one. The exclusion names the benchmark, split and item id.

What is checked: by default each benchmark's *evaluation* split, the one ``lingshu eval
run`` scores (``splits[0]`` of the benchmark), as datatrove does (BRIEF §8). Train splits
of VQA-RAD, SLAKE, PathVQA, MIMIC-CXR ... are what medical models train on: indexing them
dropped every planted VQA-RAD train image (issue 20). ``splits: all`` or a mapping
``{benchmark: [split, ...]}`` widens the check.

Thresholds (BRIEF §8, measured on the 355 bundled real images): at Hamming 0, 6-7% of
JPEG q75 / resized copies and 28% of +10% brightness copies of a test image slip through;
4 bits catch all of them, while only 2 of 62,835 pairs of distinct originals fall within
4 bits. So ``image_threshold`` defaults to 4 here (the paper's Hamming 0 remains the
*dedup* default). Text uses word 13-grams, GPT-3's decontamination unit (Brown et al.
2020, App. C; NeMo Curator uses 13 too), and ignores n-grams found in more than
``max_items_per_ngram`` benchmark items (NeMo Curator's limit is 10): such n-grams are
boilerplate ("which of the following is the most likely ..." is in 242 of 1,273 MedQA
test questions) and matched 5 of 6 freshly written questions at 8 words. Benchmark
questions shorter than ``ngram`` words are generic ("What modality is this?") and are
matched through their image only. Measured rates: docs/curation.md.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from lingshu.data.curate.ops.base import MapOp, Op, OpParams, register_op
from lingshu.data.curate.ops.hamming import HammingIndex
from lingshu.data.curate.ops.minhash import WORD_RE
from lingshu.data.curate.ops.phash import (
    PhashAlgorithm,
    phash_hex,
    recipe_mismatch,
    stored_hashes,
)
from lingshu.data.curate.record import Record

log = logging.getLogger(__name__)

Splits = Literal["evaluation", "all"] | dict[str, list[str]]


class DecontamParams(OpParams):
    data_dir: str | None = Field(None, description="benchmark data dir (default: "
                                 "$LINGSHU_DATA_DIR, else data/benchmarks)")
    benchmarks: list[str] | None = Field(None, description="names (null: every registered "
                                         "benchmark present in data_dir)")
    splits: Splits = Field("evaluation", description="evaluation: each benchmark's evaluated "
                           "split (what `lingshu eval run` scores); all: every split; or "
                           "{benchmark: [split, ...]} (others stay at their evaluation split)")
    image_threshold: int = Field(4, ge=0, le=32, description="pHash Hamming distance; 4 "
                                 "catches re-encoded, resized, brightened copies (BRIEF §8)")
    ngram: int = Field(13, ge=3, description="word n-gram size for question/answer overlap "
                       "(13: GPT-3's unit)")
    max_items_per_ngram: int = Field(10, ge=1, description="n-grams in more benchmark items "
                                     "than this are boilerplate, never matched (NeMo Curator: 10)")
    check_answers: bool = True
    image_algorithm: PhashAlgorithm = Field("imagehash", description="pHash definition for "
                                            "benchmark and sample images, as image_phash's "
                                            "algorithm")


def _ngrams(text: str, n: int) -> set[str]:
    w = WORD_RE.findall(text.lower())
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


def splits_to_check(bench: Any, splits: Splits) -> list[str]:
    """The splits of ``bench`` that the op indexes under the ``splits`` parameter."""
    if splits == "all":
        return list(bench.splits)
    if isinstance(splits, dict) and bench.name in splits:
        return list(splits[bench.name])
    return [bench.splits[0]]


class BenchmarkIndex:
    def __init__(self, data_dir: Path, names: list[str] | None, p: DecontamParams) -> None:
        from lingshu.eval import BENCHMARKS

        self.images = HammingIndex(64, p.image_threshold)
        self.image_items: list[dict] = []
        self.questions: dict[str, dict] = {}
        self.answers: dict[str, dict] = {}
        self.loaded: dict[str, int] = {}
        self.ignored_ngrams = 0
        self._hashed: dict[str, int | None] = {}  # one image carries many questions
        q_seen: Counter[str] = Counter()
        a_seen: Counter[str] = Counter()
        missing = [n for n in names or [] if not (data_dir / n).is_dir()]
        if missing:  # asked for by name: never hand back an unchecked dataset (issue 22)
            from lingshu.core.errors import UserError

            raise UserError(
                f"decontaminate: benchmark {missing[0]!r} not found under {data_dir}; "
                "fix data_dir or benchmarks (see `lingshu benchmarks info NAME`)"
            )
        for name in names or BENCHMARKS.names():
            if not (data_dir / name).is_dir():
                continue
            # a sample's n-grams count once per item, however often they repeat in it
            for item, sample in self._samples(data_dir, name, p.splits):
                self._add_images(item, sample.images, p)
                for g in _item_ngrams(sample, p.ngram):
                    q_seen[g] += 1
                    self.questions.setdefault(g, item)
                for g in _ngrams(sample.options.get(sample.answer, sample.answer), p.ngram):
                    a_seen[g] += 1
                    self.answers.setdefault(g, item)
        for table, seen in ((self.questions, q_seen), (self.answers, a_seen)):
            common = [g for g, k in seen.items() if k > p.max_items_per_ngram]
            self.ignored_ngrams += len(common)
            for g in common:
                del table[g]
        log.info("decontaminate: indexed %s; %d boilerplate n-grams ignored", self.loaded,
                 self.ignored_ngrams)

    def _samples(self, data_dir: Path, name: str, splits: Splits):  # noqa: ANN202
        from lingshu.core.errors import UserError
        from lingshu.eval import get_benchmark

        bench = get_benchmark(name)
        for split in splits_to_check(bench, splits):
            try:
                samples = bench.load(data_dir, split)
            except UserError as e:  # split not in this copy (e.g. only train rows bundled)
                log.info("decontaminate: %s/%s not checked: %s", name, split, e)
                continue
            except Exception as e:  # noqa: BLE001 - one broken benchmark must not stop a run
                log.warning("decontaminate: %s/%s failed to load: %s", name, split, e)
                continue
            refused = [s for s in samples if s.refused]
            if refused:  # their images cannot be checked: never hand back a partial check
                raise UserError(
                    f"decontaminate: {name}/{split}: {len(refused)} sample(s) refused, so "
                    f"their images cannot be checked; e.g. {refused[0].refused}"
                )
            self.loaded[f"{name}/{split}"] = len(samples)
            for s in samples:
                yield {"benchmark": name, "split": split, "item": s.id}, s

    def _add_images(self, item: dict, paths: tuple[str, ...], p: DecontamParams) -> None:
        for path in paths:
            if path in self._hashed:
                continue
            try:
                h = self._hashed[path] = int(phash_hex(path, 8, p.image_algorithm), 16)
            except OSError:
                self._hashed[path] = None
                continue
            if self.images.query(h) is None or p.image_threshold > 0:
                self.images.add(h)
                self.image_items.append(item)


def _item_ngrams(sample: Any, n: int) -> set[str]:
    """A benchmark item's n-grams within its context, its question and each option: an
    n-gram across their joins ("... next step in management A") is formatting, and the
    same join in a fresh question would match it."""
    parts = [sample.context or "", sample.question, *sample.options.values()]
    return set().union(*(_ngrams(t, n) for t in parts))


@functools.lru_cache(maxsize=4)
def _cached_index(data_dir: str, params_json: str) -> BenchmarkIndex:
    params = DecontamParams.model_validate_json(params_json)
    return BenchmarkIndex(Path(data_dir), list(params.benchmarks or []) or None, params)


def _index(data_dir: str, params: DecontamParams) -> BenchmarkIndex:
    """One index per worker process and parameter set (several ops, shards share it)."""
    return _cached_index(data_dir, params.model_dump_json())


@register_op("decontaminate")
class Decontaminate(MapOp):
    summary = ("drop samples matching an item of a benchmark's evaluation split (image "
               "pHash within 4 bits, text 13-grams without boilerplate)")
    Params = DecontamParams

    def data_dir(self) -> Path:
        d = self.params.data_dir or os.environ.get("LINGSHU_DATA_DIR") or "data/benchmarks"
        p = Path(d).expanduser()
        if not p.is_absolute() and self.context is not None:
            base = Path(self.context.base_dir) / p
            p = base if base.exists() else Path.cwd() / p
        return p

    def check_recipe(self, earlier: list[Op]) -> str | None:
        return recipe_mismatch(earlier, self.params.image_algorithm, None, "image_algorithm")

    def _hashes(self, rec: Record) -> list[str | None]:
        """64-bit hashes of the record's images: image_phash's if it stored them (same
        definition required), else computed here (None: not decodable)."""
        algo = self.params.image_algorithm
        st = rec.stats.get("image_phash")
        if isinstance(st, dict) and st.get("hash_size") == 8:
            stored = stored_hashes(rec, algo, 8, self.label, "image_algorithm")
            if stored is not None:
                return list(stored)
        out: list[str | None] = []
        for path in rec.images():
            try:
                out.append(phash_hex(path, 8, algo))
            except OSError:
                out.append(None)
        return out

    def setup(self) -> None:
        d = self.data_dir()
        if not d.is_dir():
            # a user who asked for decontamination must never get an undecontaminated set
            from lingshu.core.errors import UserError

            raise UserError(f"decontaminate: benchmark data dir {d} not found; set the op's "
                            "data_dir (or LINGSHU_DATA_DIR) to the folder of benchmark releases")
        self.index = _index(str(d), self.params)

    def _match(self, rec: Record) -> tuple[str, dict[str, Any]] | None:
        idx = self.index
        for hexh in self._hashes(rec):
            hit = idx.images.query(int(hexh, 16)) if hexh is not None else None
            if hit is not None:
                return "image matches", {"kind": "image", "distance": hit[1],
                                         **idx.image_items[hit[0]]}
        for g in sorted(_ngrams(rec.text(), self.params.ngram)):
            if g in idx.questions:
                return "question overlaps", {"kind": "question", "ngram": g,
                                             **idx.questions[g]}
        if self.params.check_answers:
            for g in sorted(_ngrams(rec.text("assistant"), self.params.ngram)):
                if g in idx.answers:
                    return "answer overlaps", {"kind": "answer", "ngram": g, **idx.answers[g]}
        return None

    def process(self, rec: Record) -> Record | dict[str, Any]:
        if not hasattr(self, "index"):
            self.setup()
        hit = self._match(rec)
        if hit is not None:
            what, stat = hit
            return self.exclude(rec, f"{what} {stat['benchmark']} {stat['split']} item "
                                f"{stat['item']}", **stat)
        rec.stats[self.name] = {"clean": True}
        return rec
