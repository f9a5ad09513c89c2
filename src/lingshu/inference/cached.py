"""Model calls through a cache: look every key up, ask the backend only for the misses,
store what arrived. One implementation for the evaluation runner (response cache), the
LLM judge (judge cache) and curation's model calls (curation cache).

The caller owns the keys (what determines an answer differs: a benchmark sample, a judge
prompt version, a curation template) and the store; this module owns the order of
events, so the three agree on it: hits first (in the callers' order), then the misses in
chunks, each chunk stored before it is handed back (a kill loses at most the chunk in
flight), failures never stored (the next run retries them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lingshu.inference.types import GenerationParams, Request, Response

Generate = Callable[[list[Request], GenerationParams], list[Response]]
"""``Backend.generate`` or anything with its shape (a judge passes a lazy wrapper, so its
backend is only made when something is asked)."""


class ResponseStore(Protocol):
    """A key -> ``Response`` store (the evaluation's ``ResponseCache``, or
    :class:`TextResponses` over a key -> text table)."""

    def get_many(self, keys: Iterable[str]) -> Mapping[str, Response]: ...

    def put_many(self, items: Iterable[tuple[str, Response]]) -> None: ...


class TextTable(Protocol):
    def get_many(self, keys: Iterable[str]) -> Mapping[str, str]: ...

    def put_many(self, rows: Iterable[tuple[str, str]]) -> None: ...


class TextResponses:
    """A key -> text table (``lingshu.core.sqlite_store.SqliteTextStore``) read and written
    as responses: only the text is kept (the judge and curation parse it again)."""

    def __init__(self, table: TextTable) -> None:
        self.table = table

    def get_many(self, keys: Iterable[str]) -> dict[str, Response]:
        return {k: Response(text=v) for k, v in self.table.get_many(keys).items()}

    def put_many(self, items: Iterable[tuple[str, Response]]) -> None:
        self.table.put_many((k, r.text) for k, r in items)


@dataclass
class CallBatch:
    """Answers handed back together: ``groups`` pairs the positions (indexes into the
    requests given) that share one answer with it; ``cached``: from the store;
    ``asked``: requests sent to the backend; ``seconds``: the backend's time."""

    groups: list[tuple[list[int], Response]]
    cached: bool
    asked: int = 0
    seconds: float = 0.0

    @property
    def positions(self) -> list[int]:
        return [i for group, _ in self.groups for i in group]


def cached_calls(
    generate: Generate,
    requests: Sequence[Request],
    keys: Sequence[str],
    params: GenerationParams,
    *,
    store: ResponseStore | None = None,
    chunk_size: int | None = None,
    once_per_key: bool = False,
    ask: bool = True,
    who: str = "backend",
) -> Iterator[CallBatch]:
    """Answer ``requests`` (``keys[i]`` is the cache key of ``requests[i]``), lazily: the
    hits come first as one batch, then each chunk of ``chunk_size`` misses (default: all
    at once) after the backend answered and its successes were stored. Stop iterating and
    nothing more is asked. ``once_per_key``: requests with equal keys are asked once and
    share the answer. ``ask=False``: hits only (a caller that has given up on its backend).
    A backend returning a wrong number of responses is a bug, raised as ``RuntimeError``
    naming ``who``."""
    if len(requests) != len(keys):
        raise ValueError(f"{len(requests)} requests but {len(keys)} keys")
    hits = store.get_many(keys) if store is not None and keys else {}
    groups: list[tuple[list[int], Response]] = [
        ([i], hits[k]) for i, k in enumerate(keys) if k in hits
    ]
    if groups:
        yield CallBatch(groups, cached=True)
    misses: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k not in hits:
            misses.setdefault(k if once_per_key else f"{i}\0{k}", []).append(i)
    todo = list(misses.values())
    if not ask or not todo:
        return
    size = max(1, chunk_size or len(todo))
    for start in range(0, len(todo), size):
        part = todo[start : start + size]
        t0 = time.time()
        responses = generate([requests[group[0]] for group in part], params)
        seconds = time.time() - t0
        if len(responses) != len(part):
            raise RuntimeError(
                f"{who} returned {len(responses)} responses for {len(part)} requests"
            )
        if store is not None:
            store.put_many(
                (keys[group[0]], r) for group, r in zip(part, responses, strict=True)
                if r.error is None
            )  # fmt: skip
        yield CallBatch(
            list(zip(part, responses, strict=True)), cached=False, asked=len(part), seconds=seconds
        )
