"""The ``fast`` strategy: text-only causal LMs through ``_causal_decode`` (shared prompt
prefix computed once, prompts prefilled in groups of similar length, finished rows
dropped), with continuous batching: queued requests that share the decode's batch key
join it as places free up.

Each sampled row draws from its own generator seeded with its request's seed, so a seeded
answer does not depend on its neighbours (``GenerationParams.batch_key(per_row_seeds=True)``
lets seeded requests share a batch here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lingshu.inference._generate_strategy import seed_of
from lingshu.inference._rows import Rows
from lingshu.inference.types import GenerationParams

if TYPE_CHECKING:
    from lingshu.inference._causal_decode import Joining
    from lingshu.inference.engine import Engine


def decode_fast(engine: Engine, rows: Rows) -> None:
    """The fast decoder over ``rows``; when they have a batch key, queued requests with
    that key join as it runs (continuous batching, :func:`admit`)."""
    from lingshu.inference._causal_decode import run_causal

    first = list(rows)
    params = first[0].job.params
    run_causal(
        engine.model,
        [row.job.prompt.token_ids() for row in first],
        GenerationParams(
            temperature=0.0 if params.greedy else params.temperature, top_p=params.top_p
        ),
        pad_id=engine.pad_token_id,
        step=lambda i, token: rows[i].step(token),
        generators=None if params.greedy else [generator(engine, r.job.params) for r in first],
        admit=None if rows.key is None else lambda: admit(engine, rows),
    )


def admit(engine: Engine, rows: Rows) -> list[Joining]:
    """Continuous batching: queued requests that join the running fast decode, up to
    ``max_batch_size`` live rows. Without it a request arriving just after a batch
    started waited for the whole batch, and rows that finished early left their
    places idle (a step costs about the same for 1 row as for 16).

    Requests are taken from the head of the queue only, while they share the decode's
    batch key (the same greedy or sampling settings): a request that cannot join is
    never overtaken; the decode then takes no more rows, ends, and it runs next."""
    from lingshu.inference._causal_decode import Joining

    queue = engine._queue
    if not queue.has_pending():  # asked before every step: the common case costs no lock
        return []
    rows.forget_finished()
    free = engine.max_batch_size - rows.live
    if free <= 0:
        return []
    jobs = queue.take_joiners(rows.key, free)
    engine.stats.requests += len(jobs)
    engine.stats.joined += len(jobs)
    return [
        Joining(
            rows.add(job, engine),
            job.prompt.token_ids(),
            None if job.params.greedy else generator(engine, job.params),
        )
        for job in jobs
    ]


def generator(engine: Engine, params: GenerationParams) -> Any:
    """A sampled row's own random stream, seeded with its request's seed."""
    import torch

    return torch.Generator(device=engine.model.device).manual_seed(seed_of(params))
