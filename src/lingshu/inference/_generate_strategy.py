"""The ``generate`` strategy: transformers' ``model.generate`` on a left-padded batch, for
vision-language models (mRoPE positions and image inputs are model-specific) and for text
models the fast decoder does not fit; plus what any strategy reads from the checkpoint
(end-of-sequence and padding ids, context length, the seed of a sampled request).

Decoding follows the request's settings exactly, whatever the checkpoint's
``generation_config.json`` says (Qwen2.5-VL ships ``repetition_penalty=1.05``...): greedy
below a temperature of ``GenerationParams.GREEDY_BELOW``, otherwise temperature / top-p
sampling. ``generate`` has one random stream per batch, seeded with the first row's seed,
so the queue runs a seeded sampled request alone here (``GenerationParams.batch_key``).
"""

from __future__ import annotations

import random
from typing import Any

from lingshu.inference._rows import Row
from lingshu.inference.encoding import collate
from lingshu.inference.types import SEED_MAX, GenerationParams


def decode_generate(model: Any, rows: list[Row], *, eos_token_ids: list[int], pad_token_id: int) -> None:
    """Decode ``rows`` with ``model.generate``; each row is fed its tokens as they come
    and told ``generate`` when it is done (:func:`row_stopper`)."""
    import torch
    from transformers import StoppingCriteriaList

    inputs = collate([row.job.prompt for row in rows], pad_token_id)
    device, dtype = model.device, model.dtype
    inputs = {
        k: v.to(device=device, dtype=dtype) if v.is_floating_point() else v.to(device)
        for k, v in inputs.items()
    }
    params = rows[0].job.params
    config = generation_config(
        params,
        max_new_tokens=max(row.job.params.max_new_tokens for row in rows),
        eos_token_ids=eos_token_ids,
        pad_token_id=pad_token_id,
    )
    devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed_of(params))  # sampling reproducible; global RNG untouched
        model.generate(
            **inputs,
            generation_config=config,
            stopping_criteria=StoppingCriteriaList([row_stopper(rows)]),
        )


def row_stopper(rows: list[Row]) -> Any:
    from transformers import StoppingCriteria

    class RowStopper(StoppingCriteria):
        """Called by ``generate`` after every step with the sequences so far: feeds each
        row its new token and tells ``generate`` which rows are finished."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            last = input_ids[:, -1].tolist()
            for row, token in zip(rows, last, strict=True):
                row.step(int(token))
            return torch.tensor([row.done for row in rows], dtype=torch.bool, device=input_ids.device)

    return RowStopper()


def generation_config(
    params: GenerationParams, *, max_new_tokens: int, eos_token_ids: list[int], pad_token_id: int
) -> Any:
    """A ``GenerationConfig`` that decodes exactly as ``params`` says, whatever the
    checkpoint defaults: transformers fills every unset field from the checkpoint's
    ``generation_config.json``, so the fields that change greedy or sampled outputs are set
    explicitly. Stop strings are the engine's business (per row), not ``generate``'s."""
    from transformers import GenerationConfig

    common: dict[str, Any] = dict(
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_token_ids,
        pad_token_id=pad_token_id,
        num_beams=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        min_length=0,
    )
    if params.greedy:
        # Neutral values for the sampling knobs: unset, they would be inherited from the
        # checkpoint and make transformers warn on every call that greedy ignores them.
        return GenerationConfig(
            do_sample=False, temperature=1.0, top_p=1.0, top_k=50, typical_p=1.0,
            epsilon_cutoff=0.0, eta_cutoff=0.0, **common,
        )  # fmt: skip
    return GenerationConfig(
        do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0,
        min_p=0.0, typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0, **common,
    )  # fmt: skip


def seed_of(params: GenerationParams) -> int:
    """The request's seed, or a fresh random one when it has none (server, chat)."""
    return params.seed if params.seed is not None else random.SystemRandom().randrange(SEED_MAX + 1)


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """The checkpoint's end-of-generation ids plus the tokenizer's (chat turn end)."""
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return [int(i) for i in ids]


def context_length(model: Any) -> int:
    config = model.config
    for cfg in (getattr(config, "text_config", None), config):
        n = getattr(cfg, "max_position_embeddings", None) if cfg is not None else None
        if n:
            return int(n)
    return 4096


def pad_id(model: Any, tokenizer: Any, eos: list[int]) -> int:
    for candidate in (
        tokenizer.pad_token_id,
        getattr(model.generation_config, "pad_token_id", None),
    ):
        if candidate is not None:
            return int(candidate)
    return eos[0] if eos else 0
