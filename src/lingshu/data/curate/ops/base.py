"""What an op is: typed parameters, then either a per-sample step or a global decision.

Ops follow Data-Juicer's "measure, then decide": each op writes what it measured into
``record.stats[<op name>]`` and, when it drops a sample, an exclusion row naming itself,
the statistic and the reason. Two kinds:

- ``MapOp``: works on a batch of records of one shard at a time (filters, labellers,
  de-identification, synthesis). ``apply`` returns the records that go on (possibly new
  ones, for synthesis) and the exclusions.
- ``GlobalOp``: needs every shard (dedup). Its ``signature`` runs per record inside the
  shard pass (the costly part: hashing), stored as binary columns (``pack``) with bucket
  keys (``buckets``); ``decide`` runs over the ``(key, signature)`` entries of the records
  that share a bucket, partitioned by connected component (``curate/partition.py``),
  returning the ids to drop. Entries arrive in the run's global order, so decisions do
  not depend on the executor or on the partitioning.

Parameters are pydantic models with ``extra="forbid"``: a typo in a recipe fails when the
recipe is loaded, before any work starts.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from lingshu.core.registry import Registry
from lingshu.data.curate.record import Record, exclusion


class OpParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Op:
    name: ClassVar[str]
    Params: ClassVar[type[OpParams]] = OpParams
    uses_model: ClassVar[bool] = False  # runs as a Ray actor (can ask for a GPU)
    summary: ClassVar[str] = ""

    def __init__(self, params: OpParams, *, label: str | None = None, context: Any = None):
        self.params = params
        self.label = label or self.name  # the op's name in exclusions (name or name#2)
        self.context = context

    def setup(self) -> None:  # noqa: B027 - optional: load models, build indexes
        """Heavy state, built once per worker (never in __init__, which runs on load)."""

    def check_recipe(self, earlier: list[Op]) -> str | None:
        """Why this op cannot follow ``earlier`` (the recipe's ops before it), else None.

        Runs when a recipe is loaded, so a combination that cannot work (two ops using
        different definitions of one statistic) fails before any record is read.
        """
        return None

    def exclude(self, rec: Record, reason: str, **statistic: Any) -> dict[str, Any]:
        return exclusion(rec, self.label, reason, statistic)


class MapOp(Op):
    def apply(self, records: list[Record]) -> tuple[list[Record], list[dict[str, Any]]]:
        kept: list[Record] = []
        dropped: list[dict[str, Any]] = []
        for rec in records:
            out = self.process(rec)
            if isinstance(out, dict):
                dropped.append(out)
            elif isinstance(out, list):
                kept.extend(out)
            else:
                kept.append(out)
        return kept, dropped

    def process(self, rec: Record) -> Record | list[Record] | dict[str, Any]:
        raise NotImplementedError


class GlobalOp(Op):
    def signature(self, rec: Record) -> Any:
        """JSON-serialisable key material for ``decide`` (None: the record takes no part)."""
        raise NotImplementedError

    def signatures(self, records: list[Record]) -> list[Any]:
        """Batch form of ``signature`` (ops override it to batch library calls)."""
        return [self.signature(r) for r in records]

    def pack(self, sigs: list[Any]) -> dict[str, Any]:
        """The shard's (non-None) signatures as numpy columns (stored per shard, binary).
        Default: each as JSON text; ops with large signatures store them packed."""
        import numpy as np

        return {"json": np.array([json.dumps(s) for s in sigs], dtype=str)}

    def unpack(self, cols: dict[str, Any], rows: Any) -> list[Any]:
        """The signatures of entries ``rows`` back from ``pack``'s columns, as ``decide``
        takes them."""
        return [json.loads(v) for v in cols["json"][rows].tolist()]

    def band_count(self) -> int:
        """How many bucket-key columns ``buckets`` gives."""
        return 1

    def buckets(self, cols: dict[str, Any], datasets: list[str]) -> dict[str, Any]:
        """Bucket keys: ``b_keys`` (rows, band_count) uint64 and ``b_entry`` (the entry of
        each row). Two records can interact in ``decide`` only if they share a key in some
        column. Default: one key for all (one partition: correct, not parallel)."""
        import numpy as np

        n = int(cols["n"])
        return {"b_keys": np.zeros((n, 1), dtype=np.uint64), "b_entry": np.arange(n)}

    def hamming_threshold(self) -> int | None:
        """For Hamming near-duplicate keys (``b_hash``, ``b_scope`` columns): the bits two
        hashes may differ by; None: keys must be equal."""
        return None

    def band_masks(self, band: int) -> list[int]:
        """Bit flips of band ``band``'s key that still reach a candidate (Hamming)."""
        return [0]

    def decide(
        self, entries: list[dict[str, Any]], priority: dict[str, int]
    ) -> dict[str, dict[str, Any]]:
        """``entries``: ``{"id", "source", "dataset", "sig"}`` in global order; ``priority``:
        source -> rank (lower wins). Returns id -> ``{"reason", "statistic"}`` to drop."""
        raise NotImplementedError


OPS: Registry[type[Op]] = Registry("curation op")


def register_op(name: str):  # noqa: ANN201
    def deco(cls: type[Op]) -> type[Op]:
        cls.name = name
        OPS.add(name, cls)
        return cls

    return deco


def describe_ops() -> list[dict[str, Any]]:
    """Every op with its kind, summary and ``(param, default, help)`` rows."""
    import lingshu.data.curate.ops  # noqa: F401  (registers)

    from lingshu.core.config import field_rows

    rows = []
    for name in OPS.names():
        cls = OPS.get(name)
        params = field_rows(cls.Params)
        kind = "global" if issubclass(cls, GlobalOp) else "map"
        rows.append(
            {"name": name, "kind": kind, "model": cls.uses_model, "summary": cls.summary,
             "params": params}
        )
    return rows
