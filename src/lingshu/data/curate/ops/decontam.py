"""Decontamination against every benchmark the evaluation kit can load from a data dir.

Why: Med-R1 trained on part of the OmniMedVQA test set without noticing. A training
sample is removed when one of its images matches a benchmark image by pHash (exact, or
within ``image_threshold`` bits), when its text shares a word ``ngram`` with a
benchmark question (with its context and options), or when its answer shares one with a
benchmark answer long enough to hold one. The exclusion names the benchmark, split and
item id. Word 13-grams are GPT-3's decontamination unit (Brown et al. 2020, App. C);
8 is the default here because medical VQA questions are short, and a full 8-word
question copied verbatim is the case to catch. Shorter benchmark questions ("What
modality is this?") are generic and are only matched through their image. Image hashes
follow ``image_algorithm`` on both sides (benchmark and sample); 64-bit hashes stored by
an earlier ``image_phash`` are reused and must follow the same definition.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import Field

from lingshu.data.curate.ops.base import MapOp, Op, OpParams, register_op
from lingshu.data.curate.ops.hamming import HammingIndex
from lingshu.data.curate.ops.phash import (
    PhashAlgorithm,
    phash_hex,
    recipe_mismatch,
    stored_hashes,
)
from lingshu.data.curate.ops.minhash import WORD_RE
from lingshu.data.curate.record import Record

log = logging.getLogger(__name__)


class DecontamParams(OpParams):
    data_dir: str | None = Field(None, description="benchmark data dir (default: "
                                 "$LINGSHU_DATA_DIR, else data/benchmarks)")
    benchmarks: list[str] | None = Field(None, description="names (null: every registered "
                                         "benchmark present in data_dir)")
    image_threshold: int = Field(0, ge=0, le=32, description="pHash Hamming distance (0: exact)")
    ngram: int = Field(8, ge=3, description="word n-gram size for question/answer overlap")
    check_answers: bool = True
    image_algorithm: PhashAlgorithm = Field("imagehash", description="pHash definition for "
                                            "benchmark and sample images, as image_phash's "
                                            "algorithm")


def _ngrams(text: str, n: int) -> set[str]:
    w = WORD_RE.findall(text.lower())
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


class BenchmarkIndex:
    def __init__(self, data_dir: Path, names: list[str] | None, threshold: int, n: int,
                 algorithm: str = "imagehash") -> None:
        from lingshu.core.errors import UserError
        from lingshu.data.curate.readers import sample_prompt
        from lingshu.eval.benchmarks import BENCHMARKS, get_benchmark

        self.images = HammingIndex(64, threshold)
        self.image_items: list[dict] = []
        self.questions: dict[str, dict] = {}
        self.answers: dict[str, dict] = {}
        self.loaded: dict[str, int] = {}
        hashed: dict[str, int | None] = {}  # one image carries many questions
        missing = [n for n in names or [] if not (data_dir / n).is_dir()]
        if missing:  # asked for by name: never hand back an unchecked dataset
            raise UserError(
                f"decontaminate: benchmark {missing[0]!r} not found under {data_dir}; "
                "fix data_dir or benchmarks (see `lingshu benchmarks info NAME`)"
            )
        for name in names or BENCHMARKS.names():
            bench = get_benchmark(name)
            if not (data_dir / name).is_dir():
                continue
            for split in bench.splits:
                try:
                    samples = bench.load(data_dir, split)
                except UserError:
                    continue
                except Exception as e:  # noqa: BLE001 - one broken benchmark must not stop a run
                    log.warning("decontaminate: %s/%s failed to load: %s", name, split, e)
                    continue
                self.loaded[f"{name}/{split}"] = len(samples)
                for s in samples:
                    item = {"benchmark": name, "split": split, "item": s.id}
                    for p in s.images:
                        if p in hashed:
                            continue
                        try:
                            h = hashed[p] = int(phash_hex(p, 8, algorithm), 16)
                        except OSError:
                            hashed[p] = None
                            continue
                        if self.images.query(h) is None or threshold > 0:
                            self.images.add(h)
                            self.image_items.append(item)
                    for g in _ngrams(sample_prompt(s), n):
                        self.questions.setdefault(g, item)
                    for g in _ngrams(s.options.get(s.answer, s.answer), n):
                        self.answers.setdefault(g, item)
        log.info("decontaminate: indexed %s", self.loaded)


@functools.lru_cache(maxsize=4)
def _index(data_dir: str, names: tuple[str, ...] | None, threshold: int, n: int,
           algorithm: str) -> BenchmarkIndex:
    return BenchmarkIndex(Path(data_dir), list(names) if names else None, threshold, n,
                          algorithm)


@register_op("decontaminate")
class Decontaminate(MapOp):
    summary = "drop samples matching an evaluation benchmark item (image pHash, text n-grams)"
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
        p = self.params
        d = self.data_dir()
        if not d.is_dir():
            # a user who asked for decontamination must never get an undecontaminated set
            from lingshu.core.errors import UserError

            raise UserError(f"decontaminate: benchmark data dir {d} not found; set the op's "
                            "data_dir (or LINGSHU_DATA_DIR) to the folder of benchmark releases")
        self.index = _index(str(d), tuple(p.benchmarks) if p.benchmarks else None,
                            p.image_threshold, p.ngram, p.image_algorithm)

    def process(self, rec: Record) -> Record | dict[str, Any]:
        if not hasattr(self, "index"):
            self.setup()
        idx = self.index
        for hexh in self._hashes(rec):
            if hexh is None:
                continue
            hit = idx.images.query(int(hexh, 16))
            if hit is not None:
                item = idx.image_items[hit[0]]
                return self.exclude(rec, f"image matches {item['benchmark']} item "
                                    f"{item['item']}", kind="image", distance=hit[1], **item)
        for g in sorted(_ngrams(rec.text(), self.params.ngram)):
            if g in idx.questions:
                item = idx.questions[g]
                return self.exclude(rec, f"question overlaps {item['benchmark']} item "
                                    f"{item['item']}", kind="question", ngram=g, **item)
        if self.params.check_answers:
            for g in sorted(_ngrams(rec.text("assistant"), self.params.ngram)):
                if g in idx.answers:
                    item = idx.answers[g]
                    return self.exclude(rec, f"answer overlaps {item['benchmark']} item "
                                        f"{item['item']}", kind="answer", ngram=g, **item)
        rec.stats[self.name] = {"clean": True}
        return rec
