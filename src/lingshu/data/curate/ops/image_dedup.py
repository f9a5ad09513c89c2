"""pHash image dedup, exact (Hamming 0: the paper's setting, BRIEF §3) or near.

Scope ``global`` dedups across all inputs (captions, in the paper); ``dataset`` only
within each input's dataset (instruction data: one image legitimately carries many
questions, so ``with_text: true`` also keys on the question). The copy kept is the one
from the highest-priority source, then the earliest in read order. Hashes stored by an
earlier ``image_phash`` are reused; they must follow this op's ``algorithm`` and
``hash_size`` (checked when the recipe loads).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from lingshu.data.curate.ops.base import GlobalOp, Op, OpParams, register_op
from lingshu.data.curate.ops.hamming import HammingIndex
from lingshu.data.curate.ops.bands import flip_masks, hamming_bands, mix64
from lingshu.data.curate.ops.phash import (
    ALGORITHM_HELP,
    PhashAlgorithm,
    only_64_bit,
    phash_hex,
    recipe_mismatch,
    stored_hashes,
)
from lingshu.data.curate.record import Record


class ImageDedupParams(OpParams):
    threshold: int = Field(0, ge=0, le=32, description="max Hamming distance (0 = exact)")
    scope: Literal["global", "dataset"] = Field("global", description="dedup across all "
                                                "inputs or within each dataset")
    with_text: bool = Field(False, description="also require the same user text "
                            "(instruction data: same image, different question is kept)")
    hash_size: int = Field(8, ge=4, le=16, description="pHash size (8 -> 64 bits)")
    algorithm: PhashAlgorithm = Field("imagehash", description=ALGORITHM_HELP)

    _64_bit = field_validator("algorithm")(only_64_bit)


def norm_text(t: str) -> str:
    """Lower case, whitespace runs collapsed (str.split: same set as regex \\s)."""
    return " ".join(t.lower().split())


@register_op("image_dedup")
class ImageDedup(GlobalOp):
    summary = "pHash dedup (exact or near), banded index, keeps the highest-priority copy"
    Params = ImageDedupParams

    def check_recipe(self, earlier: list[Op]) -> str | None:
        return recipe_mismatch(earlier, self.params.algorithm, self.params.hash_size)

    def signature(self, rec: Record) -> Any:
        if not rec.images():
            return None
        p = self.params
        hashes = stored_hashes(rec, p.algorithm, p.hash_size, self.label)
        if hashes is None:
            try:
                hashes = [phash_hex(x, p.hash_size, p.algorithm) for x in rec.images()]
            except OSError:
                return None
        text = ""
        if self.params.with_text:
            text = hashlib.sha1(norm_text(rec.text("user")).encode()).hexdigest()[:16]
        return {"h": hashes, "t": text}

    def pack(self, sigs: list[Any]) -> dict[str, Any]:
        """Every record's hashes (hex, flattened, with offsets) and its text key."""
        counts = [len(s["h"]) for s in sigs]
        return {"h": np.array([h for s in sigs for h in s["h"]], dtype=bytes).reshape(-1),
                "h_off": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                "t": np.array([s["t"] for s in sigs], dtype=bytes).reshape(len(sigs))}

    def unpack(self, cols: dict[str, Any], rows: Any) -> list[Any]:
        off, h = cols["h_off"], cols["h"]
        return [{"h": [x.decode() for x in h[off[j]:off[j + 1]].tolist()],
                 "t": cols["t"][j].decode()} for j in np.asarray(rows).tolist()]

    def _bits(self) -> int:
        return self.params.hash_size ** 2

    def _banded(self) -> bool:
        """Near-duplicate keys need the whole hash in one uint64 (hash_size <= 8)."""
        return self.params.threshold > 0 and self._bits() <= 64

    def band_count(self) -> int:
        return hamming_bands(self._bits(), self.params.threshold)[0] if self._banded() else 1

    def hamming_threshold(self) -> int | None:
        return self.params.threshold if self._banded() else None

    def _widths(self) -> list[tuple[int, int]]:
        m = self.band_count()
        w = -(-self._bits() // m)
        return [(b * w, min(self._bits(), (b + 1) * w)) for b in range(m)]

    def band_masks(self, band: int) -> list[int]:
        lo, hi = self._widths()[band]
        return flip_masks(hi - lo, hamming_bands(self._bits(), self.params.threshold)[1])

    def buckets(self, cols: dict[str, Any], datasets: list[str]) -> dict[str, Any]:
        """One row per hash: the record's scope (dataset, question key) in the key's high
        32 bits, a band of the hash in the low bits; at threshold 0 (or hashes wider than
        64 bits) the whole hash mixed with the scope, equal keys only; near duplicates of
        wider hashes: the scope alone (one partition per scope: correct, less parallel)."""
        off = cols["h_off"]
        entry = np.repeat(np.arange(len(off) - 1), np.diff(off))
        scope = mix64([(d if self.params.scope == "dataset" else "") + "\x00" + t.decode()
                       for d, t in zip(datasets, cols["t"].tolist(), strict=True)])[entry] \
            if len(entry) else np.zeros(0, dtype=np.uint64)
        if self.params.threshold > 0 and not self._banded():
            return {"b_keys": scope[:, None], "b_entry": entry}
        if not self._banded():
            full = mix64([x.decode() for x in cols["h"].tolist()])
            return {"b_keys": (full ^ scope)[:, None], "b_entry": entry}
        h = np.array([int(x, 16) for x in cols["h"].tolist()], dtype=np.uint64)
        keys = np.empty((len(h), self.band_count()), dtype=np.uint64)
        high = (scope >> np.uint64(32)) << np.uint64(32)
        for b, (lo, hi) in enumerate(self._widths()):
            keys[:, b] = high | ((h >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1))
        return {"b_keys": keys, "b_entry": entry, "b_hash": h, "b_scope": scope}

    def decide(self, entries: list[dict], priority: dict[str, int]) -> dict[str, dict]:
        bits = self.params.hash_size ** 2
        order = sorted(range(len(entries)),
                       key=lambda i: (priority.get(entries[i]["source"], 1 << 30), i))
        indexes: dict[tuple[str, str], HammingIndex] = {}
        owners: dict[tuple[str, str], list[str]] = {}
        drop: dict[str, dict] = {}
        for i in order:
            e = entries[i]
            scope = e["dataset"] if self.params.scope == "dataset" else ""
            key = (scope, e["sig"]["t"])
            if key not in indexes:
                indexes[key] = HammingIndex(bits, self.params.threshold)
            index = indexes[key]
            own = owners.setdefault(key, [])
            hashes = [int(h, 16) for h in e["sig"]["h"]]
            matches = [index.query(h) for h in hashes]
            if all(m is not None for m in matches):
                dist = max(m[1] for m in matches)  # type: ignore[index]
                kept = own[matches[0][0]]  # type: ignore[index]
                kind = "exact" if dist == 0 else "near"
                drop[e["id"]] = {"reason": f"{kind} image duplicate of {kept}",
                                 "statistic": {"matched": kept, "distance": dist,
                                               "phash": e["sig"]["h"]}}
                continue
            for h in hashes:
                index.add(h)
                own.append(e["id"])
        return drop
