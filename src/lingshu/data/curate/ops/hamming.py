"""Near-duplicate search on 64-bit hashes by band index instead of all pairs.

Pigeonhole: if two ``B``-bit hashes differ in at most ``t`` bits, then split into ``t+1``
bands at least one band is identical. So candidates are the items sharing a band value
(a dict lookup), verified by popcount. At ``t = 0`` this is one exact dict. Cost grows
with the number of candidates, not with n^2 (cf. imagededup's BK-tree, which visits
many nodes per query at small thresholds).
"""

from __future__ import annotations


class HammingIndex:
    def __init__(self, bits: int, threshold: int) -> None:
        self.bits, self.t = bits, threshold
        nb = threshold + 1
        width = bits // nb
        self.bands = [(i * width, bits if i == nb - 1 else (i + 1) * width) for i in range(nb)]
        self.tables: list[dict[int, list[int]]] = [{} for _ in self.bands]
        self.values: list[int] = []

    def _keys(self, h: int) -> list[int]:
        return [(h >> lo) & ((1 << (hi - lo)) - 1) for lo, hi in self.bands]

    def query(self, h: int) -> tuple[int, int] | None:
        """(index, distance) of the closest stored hash within the threshold, else None."""
        best: tuple[int, int] | None = None
        seen: set[int] = set()
        for table, key in zip(self.tables, self._keys(h), strict=True):
            for idx in table.get(key, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                d = (self.values[idx] ^ h).bit_count()
                if d <= self.t and (best is None or (d, idx) < (best[1], best[0])):
                    best = (idx, d)
        return best

    def add(self, h: int) -> int:
        idx = len(self.values)
        self.values.append(h)
        for table, key in zip(self.tables, self._keys(h), strict=True):
            table.setdefault(key, []).append(idx)
        return idx
