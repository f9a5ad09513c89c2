"""A lean batched decoder for text-only causal LMs: shared prompt prefix computed once,
finished rows dropped as they finish.

``model.generate`` on a left-padded batch spends compute that a benchmark run does not
need (measured on SmolLM2-135M, 2 CPU cores, MedMCQA prompts):

- every prompt of a benchmark starts with the same tokens (chat template, system prompt,
  the instruction's opening words: 27 of ~107 tokens for MedMCQA on SmolLM2); their keys
  and values are computed once here and shared by every row (~12% of the CPU time);
- a batch keeps decoding rows that already emitted EOS until its longest row ends (on
  MCQ prompts with a 32-token budget, answers average 19 tokens); here a finished row
  leaves the batch and its cache rows are freed (~10%);
- padding a whole batch to its longest prompt wastes prefill compute, while decoding is
  cheapest with many rows at once: here prompts are prefilled in small groups of similar
  length and their caches merged into one decoding batch (see ``PREFILL_ROWS``).

Layout: ``[shared prefix | left padding | rest of the prompt]``; the attention mask
zeroes the padding and positions count real tokens only, so every row sees exactly the
tokens and positions it would see alone. Decoding is greedy (argmax of float32 logits, as
``generate``) or temperature / top-p sampling from a seeded generator. Vision-language
models keep ``generate``: their positions (mRoPE) and image inputs are model-specific.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from lingshu.inference.types import GenerationParams

MIN_SHARED_PREFIX = 8
"""Shorter common prefixes are not worth a separate forward pass."""


def common_prefix_length(rows: list[list[int]]) -> int:
    """Tokens shared by all rows, leaving at least one token of each row unshared (the
    last prompt token must go through the model to give the first logits)."""
    limit = min(len(r) for r in rows) - 1
    n = 0
    while n < limit and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


COMPACT_FRACTION = 4
"""Finished rows leave the batch once they are 1/4 of it (each removal copies the cache)."""

PREFILL_ROWS = 16
"""Prompts encoded together. Prompts are prefilled in groups of similar length (little
padding) and then decoded as one batch: measured on SmolLM2-135M, 2 CPU cores, 128
MedMCQA prompts, prefilling in groups of 8-16 took 11.2 s against 13.8 s in groups of 32
and 33.3 s all 128 at once (padding), while decoding all 128 together took 3.8 s against
10.8 s in batches of 32."""


@dataclass
class _Prefilled:
    rows: list[int]  # indices into the caller's rows
    keys_values: list[tuple[Any, Any]]  # per layer, [rows, heads, shared + width, dim]
    tail_mask: Any  # [rows, width]: 0 for left padding
    logits: Any  # [rows, vocab]: the last prompt position's


def decode_causal(
    model: Any,
    rows: list[list[int]],
    params: GenerationParams,
    *,
    eos_ids: set[int],
    pad_id: int,
    stopped: Callable[[list[int]], bool] | None = None,
    step: Callable[[int, int], bool] | None = None,
    generators: list[torch.Generator] | None = None,
    prefill_rows: int = PREFILL_ROWS,
) -> list[list[int]]:
    """New tokens for each prompt in ``rows`` (token ids, unpadded), EOS included when
    emitted. ``stopped(tokens)`` ends a row early (stop strings).

    ``step(row, token)``, when given, is told each new token as it is chosen and decides
    alone when a row is done (the engine's per-row stopping: its own EOS, token budget, stop
    strings, cancellation); ``params.max_new_tokens`` is then only the longest budget.
    ``generators`` (one per row) make each sampled row draw from its own seeded stream, so
    its answer does not depend on its neighbours; without them one stream seeded with
    ``params.seed`` serves the batch."""
    full_attention = _full_attention_only(model)
    shared = common_prefix_length(rows) if full_attention else 0
    if shared < MIN_SHARED_PREFIX:
        shared = 0
    prefix = _prefix_keys_values(model, rows[0][:shared]) if shared else None
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    # Groups are merged by inserting padding between prefix and prompt, which a sliding
    # window would see; such models prefill all rows at once, as ``generate`` does.
    size = prefill_rows if full_attention else len(rows)
    parts = [
        _prefill(model, rows, order[s : s + size], shared, prefix, pad_id)
        for s in range(0, len(order), size)
    ]
    merged = _merge(parts, shared)
    cache = _new_cache(model, merged.keys_values)
    device = merged.tail_mask.device
    mask = torch.cat(
        [torch.ones((len(rows), shared), dtype=torch.long, device=device), merged.tail_mask], dim=1
    )
    next_pos = shared + merged.tail_mask.sum(dim=1)
    if generators is not None:
        generators = [generators[i] for i in merged.rows]  # the batch's row order
    generated = _decode_loop(
        model, merged.logits, cache, mask, next_pos, params, eos_ids, stopped, step,
        merged.rows, generators,
    )  # fmt: skip
    out: list[list[int]] = [[] for _ in rows]
    for tokens, i in zip(generated, merged.rows, strict=True):
        out[i] = tokens
    return out


def _prefix_keys_values(model: Any, prefix: list[int]) -> list[tuple[Any, Any]]:
    """Keys and values of the shared prompt prefix, one row."""
    cache = _new_cache(model)
    model(
        input_ids=torch.tensor([prefix], device=model.device),
        past_key_values=cache,
        use_cache=True,
        **_keep_last(model),
    )
    return [(layer.keys, layer.values) for layer in cache.layers]


def _prefill(
    model: Any,
    rows: list[list[int]],
    group: list[int],
    shared: int,
    prefix: list[tuple[Any, Any]] | None,
    pad_id: int,
) -> _Prefilled:
    """One forward pass over a group of prompts, after the shared prefix: layout
    ``[shared prefix | left padding | rest of the prompt]``, positions counting real tokens
    only, so each row sees exactly the tokens and positions it would see alone."""
    device = model.device
    n = len(group)
    seeded = None
    if prefix is not None:
        seeded = [(k.expand(n, -1, -1, -1).contiguous(), v.expand(n, -1, -1, -1).contiguous()) for k, v in prefix]
    cache = _new_cache(model, seeded)
    width = max(len(rows[i]) - shared for i in group)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long, device=device)
    tail_mask = torch.zeros((n, width), dtype=torch.long, device=device)
    for j, i in enumerate(group):
        rest = rows[i][shared:]
        input_ids[j, width - len(rest) :] = torch.tensor(rest, device=device)
        tail_mask[j, width - len(rest) :] = 1
    mask = torch.cat([torch.ones((n, shared), dtype=torch.long, device=device), tail_mask], dim=1)
    positions = (shared + tail_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
        **_keep_last(model),
    )
    keys_values = [(layer.keys, layer.values) for layer in cache.layers]
    return _Prefilled(group, keys_values, tail_mask, out.logits[:, -1])


def _merge(parts: list[_Prefilled], shared: int) -> _Prefilled:
    """One batch from groups prefilled at different widths: each group's padding grows (on
    the left of its prompts, after the prefix) to the widest group's; padded positions are
    masked, so their zero keys and values are never attended to."""
    if len(parts) == 1:
        return parts[0]
    width = max(p.tail_mask.shape[1] for p in parts)

    def widen(t: Any, extra: int) -> Any:
        if extra == 0:
            return t
        gap = t.new_zeros((t.shape[0], t.shape[1], extra, t.shape[3]))
        return torch.cat([t[:, :, :shared], gap, t[:, :, shared:]], dim=2)

    keys_values = []
    for layer in range(len(parts[0].keys_values)):
        ks = [widen(p.keys_values[layer][0], width - p.tail_mask.shape[1]) for p in parts]
        vs = [widen(p.keys_values[layer][1], width - p.tail_mask.shape[1]) for p in parts]
        keys_values.append((torch.cat(ks), torch.cat(vs)))
    tail_mask = torch.cat(
        [torch.nn.functional.pad(p.tail_mask, (width - p.tail_mask.shape[1], 0)) for p in parts]
    )
    return _Prefilled(
        [i for p in parts for i in p.rows],
        keys_values,
        tail_mask,
        torch.cat([p.logits for p in parts]),
    )


def _decode_loop(
    model: Any,
    logits: torch.Tensor,
    cache: Any,
    mask: torch.Tensor,
    next_pos: torch.Tensor,
    params: GenerationParams,
    eos_ids: set[int],
    stopped: Callable[[list[int]], bool] | None,
    step: Callable[[int, int], bool] | None,
    caller_rows: list[int],
    generators: list[torch.Generator] | None,
) -> list[list[int]]:
    generator = None
    if params.temperature > 0 and generators is None:
        generator = torch.Generator(device=logits.device).manual_seed(params.seed)
    alive = list(range(logits.shape[0]))  # batch row of each live row (merged order)
    finished: set[int] = set()
    generated: list[list[int]] = [[] for _ in alive]
    for _ in range(params.max_new_tokens):
        if generators is not None and params.temperature > 0:
            tokens = _next_tokens_per_row(logits, params, [generators[r] for r in alive])
        else:
            tokens = _next_tokens(logits, params, generator)
        keep = []
        for j, (row, token) in enumerate(zip(alive, tokens.tolist(), strict=True)):
            if row in finished:
                continue  # still in the batch until the next compaction; its tokens unused
            generated[row].append(token)
            if step is not None:
                done = step(caller_rows[row], token)
            else:
                done = token in eos_ids or len(generated[row]) >= params.max_new_tokens
                done = done or (stopped is not None and stopped(generated[row]))
            if done:
                finished.add(row)
            else:
                keep.append(j)
        if not keep:
            break
        # Dropping rows copies the whole cache, so finished rows leave in bulk: once they
        # are a quarter of the batch.
        if (len(alive) - len(keep)) * COMPACT_FRACTION >= len(alive):
            index = torch.tensor(keep, device=logits.device)
            cache.batch_select_indices(index)
            mask, tokens, next_pos = mask[index], tokens[index], next_pos[index]
            alive = [alive[j] for j in keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        out = model(
            input_ids=tokens[:, None],
            attention_mask=mask,
            position_ids=next_pos[:, None],
            past_key_values=cache,
            use_cache=True,
        )
        logits = out.logits[:, -1]
        next_pos = next_pos + 1
    return generated


def _next_tokens(
    logits: torch.Tensor, params: GenerationParams, generator: torch.Generator | None
) -> torch.Tensor:
    logits = logits.float()
    if generator is None:
        return logits.argmax(dim=-1)
    probs = _sampling_probs(logits, params)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _next_tokens_per_row(
    logits: torch.Tensor, params: GenerationParams, generators: list[torch.Generator]
) -> torch.Tensor:
    probs = _sampling_probs(logits.float(), params)
    return torch.cat(
        [torch.multinomial(probs[j], 1, generator=g) for j, g in enumerate(generators)]
    )


def _sampling_probs(logits: torch.Tensor, params: GenerationParams) -> torch.Tensor:
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # Keep the smallest set of tokens whose mass reaches top_p (at least one token).
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs >= params.top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return probs


def _new_cache(model: Any, keys_values: list[tuple[Any, Any]] | None = None) -> Any:
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=keys_values, config=model.config)


def _full_attention_only(model: Any) -> bool:
    """Whether every layer attends to the full context. Sharing a prefix and merging
    prefill groups both put padding between prefix and prompt, which a sliding-window
    layer would count as part of its window; other models get neither."""
    config = (
        model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    )
    layer_types = getattr(config, "layer_types", None) or []
    return getattr(config, "sliding_window", None) is None and all(
        t == "full_attention" for t in layer_types
    )


def _keep_last(model: Any) -> dict[str, int]:
    """Ask for the last position's logits only, when the model supports it (saves the
    vocabulary projection of every prompt token)."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return {"logits_to_keep": 1} if "logits_to_keep" in params else {}
