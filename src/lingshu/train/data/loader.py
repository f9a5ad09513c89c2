"""Micro-batches read ahead in torch DataLoader workers, in the training loop's own order.

The loop asks for ``batch_of(step, units)``; the units of every step are a pure function of
``(seed, step)`` (``sft.units_for_step``), so the micro-batches this rank will ask for are
known in advance (``keys``). Workers read, decode and encode the samples of the next
micro-batches (the expensive part: image decoding and the image processor) while the model
trains on the current one; collation (mRoPE positions from the model) stays in the main
process. The batches are those computed without workers (tests/train/test_sft_stream.py).

Each rank decodes only its own share of every step's units (``rank_share``): together the
ranks cover every unit of the step once, so every sample once per epoch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

Key = tuple[int, tuple[int, ...]]
"""(optimizer step, the units of one micro-batch)."""


def rank_share(glob: list[int], rank: int, per_rank: int) -> list[int]:
    """Rank ``rank``'s contiguous slice of a step's global units (``per_rank`` each)."""
    return glob[rank * per_rank:(rank + 1) * per_rank]


def rank_keys(units_of: Callable[[int], list[int]], steps: Iterable[int], rank: int, per_device_batch: int,
              grad_accum: int) -> Iterator[Key]:
    """The micro-batches rank ``rank`` trains on, in order: for each step, its share of the
    step's global units (``units_of(step)``) cut into ``grad_accum`` micro-batches, as the
    training loop cuts them."""
    per_rank = per_device_batch * grad_accum
    for step in steps:
        mine = rank_share(units_of(step), rank, per_rank)
        for m in range(grad_accum):
            yield step, tuple(mine[m * per_device_batch:(m + 1) * per_device_batch])


def default_workers(local_world_size: int | None = None) -> int:
    """Workers per rank when the stage does not say: the rank's share of the machine's CPUs
    (``LOCAL_WORLD_SIZE`` ranks per machine, as torchrun and accelerate set it), less one for
    the training process itself, at most 8 (PyTorch's DataLoader warns past the CPU count;
    more than a handful rarely helps one GPU)."""
    if local_world_size is None:
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(0, min(8, cpus // max(1, local_world_size) - 1))


class _Keys:
    """The sampler: the keys, iterated once by the DataLoader."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self.keys = keys

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys)


class _Fetch:
    """The DataLoader's dataset: a key -> the encoded samples of its units (in a worker)."""

    def __init__(self, fetch: Callable[[int, list[int]], Any]) -> None:
        self.fetch = fetch

    def __getitem__(self, key: Key) -> Any:
        return self.fetch(key[0], list(key[1]))


class Singletons:
    """``units`` without packing: unit ``u`` is ``[u]``, without a list per sample."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, u: int) -> list[int]:
        if not 0 <= u < self.n:
            raise IndexError(u)
        return [u]


def _identity(x: Any) -> Any:
    return x


class Prefetcher:
    """``batch_of(step, units)``: the collated micro-batch. With ``workers > 0`` the samples
    were fetched ahead in that many forked DataLoader workers, in the order of ``keys``; after
    a request off that order (a caller that skips), every batch is fetched on the spot."""

    def __init__(self, fetch: Callable[[int, list[int]], Any], collate: Callable[[Any], dict],
                 keys: Iterable[Key], workers: int) -> None:
        import multiprocessing

        self.fetch, self.collate = fetch, collate
        self.workers = workers if "fork" in multiprocessing.get_all_start_methods() else 0
        self.keys = keys
        self._it: Iterator | None = None
        self._warned = False

    def __call__(self, step: int, idx: list[int]) -> dict:
        if self.workers <= 0:
            return self.collate(self.fetch(step, idx))
        if self._it is None:
            self._it = self._start()
        key = (step, tuple(idx))
        got = next(self._it, None)
        if got is None or got[0] != key:
            if not self._warned:
                log.warning("data loader: micro-batch %s requested out of the planned order; "
                            "reading it without workers", key)
                self._warned = True
            self.workers, self._it = 0, None  # the plan is off: no more reading ahead
            return self.collate(self.fetch(step, idx))
        return self.collate(got[1])

    def _start(self) -> Iterator:
        import torch

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no Rust threads across fork
        dl = torch.utils.data.DataLoader(
            _Fetch(lambda s, i: ((s, tuple(i)), self.fetch(s, i))), sampler=_Keys(self.keys),
            batch_size=None, collate_fn=_identity, num_workers=self.workers, prefetch_factor=2,
            multiprocessing_context="fork")
        return iter(dl)
