"""A lean batched decoder for text-only causal LMs: shared prompt prefix computed once,
finished rows dropped as they finish, new prompts admitted into the running batch.

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

A server cannot wait for a batch to end before starting the requests that arrived during
it: a decoding step costs about the same for 1 row as for 16 (on CPU the weights' memory
traffic dominates), so idle rows are lost throughput and a late request would wait for the
whole batch. ``admit`` (continuous batching) is asked between steps for prompts to join:
they are prefilled on their own (reusing the shared prefix's keys and values as far as they
share it) and merged into the running batch, whose rows go on untouched.

Layout: each row's keys and values sit in the columns of one cache, left-padded, with
padding wherever rows of different widths were merged (after the shared prefix when
prefill groups merge, on the left when prompts join); the attention mask zeroes the
padding and positions count real tokens only, so every row sees exactly the tokens and
positions it would see alone. A decoding step's one query attends to every cached column,
so where a column sits does not matter, only the mask; columns that are padding for every
row left are dropped with the finished rows. Decoding is greedy (argmax of float32 logits,
as ``generate``) or temperature / top-p sampling from a seeded generator. Vision-language
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
"""Finished rows leave the batch once they are 1/4 of it (each removal copies the cache),
or at once when prompts are joining (the join copies the cache anyway)."""

PREFILL_ROWS = 16
"""Prompts encoded together. Prompts are prefilled in groups of similar length (little
padding) and then decoded as one batch: measured on SmolLM2-135M, 2 CPU cores, 128
MedMCQA prompts, prefilling in groups of 8-16 took 11.2 s against 13.8 s in groups of 32
and 33.3 s all 128 at once (padding), while decoding all 128 together took 3.8 s against
10.8 s in batches of 32."""


@dataclass(frozen=True)
class Joining:
    """A prompt admitted into a running decode. ``row``: the id ``step`` will be called
    with (distinct from every other row's); ``generator``: the row's own random stream
    when sampled rows draw per row (``generators`` given to :func:`run_causal`)."""

    row: int
    tokens: list[int]
    generator: torch.Generator | None = None


Step = Callable[[int, int], bool]
Admit = Callable[[], list[Joining]]


@dataclass
class _Batch:
    """Rows ready for their next token. Prefilled groups and the running decode are each
    one of these, so merging two is how groups become one batch and how prompts join."""

    rows: list[int]  # the caller's row ids, in batch order
    cache: Any  # per layer, keys and values [rows, heads, width, dim]
    mask: torch.Tensor  # [rows, width]: 0 for padding
    next_pos: torch.Tensor  # [rows]: the position of each row's next token
    logits: torch.Tensor  # [rows, vocab]: what chooses each row's next token
    generators: list[torch.Generator] | None = None  # per row, when sampled per row

    def keys_values(self) -> list[tuple[Any, Any]]:
        return [(layer.keys, layer.values) for layer in self.cache.layers]


@dataclass
class _Prefix:
    """The shared prompt prefix: its tokens and their keys and values (one row)."""

    tokens: list[int]
    keys_values: list[tuple[Any, Any]]

    def cut(self, n: int) -> _Prefix:
        """The first ``n`` tokens' part: a causal model's keys and values of a prefix do not
        depend on what follows, so a prompt sharing only part of the prefix reuses that."""
        return _Prefix(self.tokens[:n], [(k[:, :, :n], v[:, :, :n]) for k, v in self.keys_values])


def decode_causal(
    model: Any,
    rows: list[list[int]],
    params: GenerationParams,
    *,
    eos_ids: set[int],
    pad_id: int,
    stopped: Callable[[list[int]], bool] | None = None,
    generators: list[torch.Generator] | None = None,
    prefill_rows: int = PREFILL_ROWS,
) -> list[list[int]]:
    """New tokens for each prompt in ``rows`` (token ids, unpadded), EOS included when
    emitted; a row ends at EOS, at ``params.max_new_tokens`` or when ``stopped(tokens)``
    says so (stop strings). The convenience form of :func:`run_causal`."""
    out: list[list[int]] = [[] for _ in rows]

    def step(row: int, token: int) -> bool:
        tokens = out[row]
        tokens.append(token)
        return (
            token in eos_ids
            or len(tokens) >= params.max_new_tokens
            or (stopped is not None and stopped(tokens))
        )

    if params.max_new_tokens > 0:
        run_causal(
            model, rows, params, pad_id=pad_id, step=step, generators=generators,
            prefill_rows=prefill_rows,
        )  # fmt: skip
    return out


def run_causal(
    model: Any,
    rows: list[list[int]],
    params: GenerationParams,
    *,
    pad_id: int,
    step: Step,
    generators: list[torch.Generator] | None = None,
    admit: Admit | None = None,
    prefill_rows: int = PREFILL_ROWS,
) -> None:
    """Decode ``rows`` (token ids, unpadded; row ids 0..n-1) until every row is done.

    ``step(row, token)`` is told each new token as it is chosen and decides alone when a
    row is done (the engine's per-row stopping: EOS, its own token budget, stop strings,
    cancellation); it keeps the tokens. ``admit()``, when given, is asked between steps for
    prompts to join the batch (continuous batching); it decides how many. Models with a
    sliding-window layer take no joiners, since merging puts padding inside a row's window.
    ``generators`` (one per row; joiners bring theirs) make each sampled row draw from its
    own seeded stream, so its answer does not depend on its neighbours; without them one
    stream seeded with ``params.seed`` serves the batch."""
    full_attention = _full_attention_only(model)
    shared = common_prefix_length(rows) if full_attention else 0
    prefix = None
    if shared >= MIN_SHARED_PREFIX:
        prefix = _Prefix(rows[0][:shared], _prefix_keys_values(model, rows[0][:shared]))
    # Groups are merged by inserting padding between prefix and prompt, which a sliding
    # window would see; such models prefill all rows at once, as ``generate`` does.
    size = prefill_rows if full_attention else len(rows)
    batch = _prefill_groups(
        model, rows, list(range(len(rows))), generators, prefix, pad_id, size
    )
    generator = None
    if params.temperature > 0 and generators is None:
        generator = torch.Generator(device=model.device).manual_seed(params.seed)
    done: set[int] = set()  # rows finished but still in the batch until the next compaction
    while True:
        tokens = _choose(batch, params, generator)
        keep = []
        for j, (row, token) in enumerate(zip(batch.rows, tokens.tolist(), strict=True)):
            if row in done:
                continue
            if step(row, token):
                done.add(row)
            else:
                keep.append(j)
        joining = admit() if admit is not None and full_attention else []
        fresh = (
            _prefill_groups(
                model, [j.tokens for j in joining], [j.row for j in joining],
                [j.generator for j in joining] if generators is not None else None,
                _prefix_for(prefix, [j.tokens for j in joining]), pad_id, size,
            )  # fmt: skip
            if joining
            else None
        )
        if not keep:
            if fresh is None:
                return
            batch, done = fresh, set()
            continue
        # Dropping rows copies the whole cache, so finished rows leave in bulk: once they
        # are a quarter of the batch, or when prompts join (the join copies it anyway).
        finished = len(batch.rows) - len(keep)
        if finished and (fresh is not None or finished * COMPACT_FRACTION >= len(batch.rows)):
            batch, tokens, done = _select(model, batch, keep, full_attention), tokens[keep], set()
        _advance(model, batch, tokens)
        if fresh is not None:
            batch = _merge(model, [batch, fresh], at=0)


def _prefix_for(prefix: _Prefix | None, prompts: list[list[int]]) -> _Prefix | None:
    """The part of the running decode's shared prefix that all ``prompts`` start with, if
    long enough to be worth reusing (the chat template's system turn, typically)."""
    if prefix is None:
        return None
    n = common_prefix_length([prefix.tokens + [-1], *prompts])
    return prefix.cut(n) if n >= MIN_SHARED_PREFIX else None


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


def _prefill_groups(
    model: Any,
    prompts: list[list[int]],
    ids: list[int],
    generators: list[torch.Generator] | None,
    prefix: _Prefix | None,
    pad_id: int,
    group_rows: int,
) -> _Batch:
    """All ``prompts`` prefilled, longest first in groups of ``group_rows``, merged into
    one batch (the groups' extra padding goes after the shared prefix)."""
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    parts = []
    for s in range(0, len(order), group_rows):
        group = order[s : s + group_rows]
        parts.append(
            _prefill(
                model, [prompts[i] for i in group], [ids[i] for i in group],
                [generators[i] for i in group] if generators is not None else None,
                prefix, pad_id,
            )  # fmt: skip
        )
    return _merge(model, parts, at=len(prefix.tokens) if prefix is not None else 0)


def _prefill(
    model: Any,
    prompts: list[list[int]],
    ids: list[int],
    generators: list[torch.Generator] | None,
    prefix: _Prefix | None,
    pad_id: int,
) -> _Batch:
    """One forward pass over a group of prompts, after the shared prefix: layout
    ``[shared prefix | left padding | rest of the prompt]``, positions counting real tokens
    only, so each row sees exactly the tokens and positions it would see alone."""
    device = model.device
    n = len(prompts)
    shared = len(prefix.tokens) if prefix is not None else 0
    seeded = None
    if prefix is not None:
        seeded = [
            (k.expand(n, -1, -1, -1).contiguous(), v.expand(n, -1, -1, -1).contiguous())
            for k, v in prefix.keys_values
        ]
    cache = _new_cache(model, seeded)
    width = max(len(p) - shared for p in prompts)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long, device=device)
    tail_mask = torch.zeros((n, width), dtype=torch.long, device=device)
    for j, prompt in enumerate(prompts):
        rest = prompt[shared:]
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
    return _Batch(ids, cache, mask, positions[:, -1] + 1, out.logits[:, -1], generators)


def _merge(model: Any, parts: list[_Batch], at: int) -> _Batch:
    """One batch from batches of different widths: each one's padding grows, at column
    ``at``, to the widest's; padded columns are masked, so their zero keys and values are
    never attended to."""
    if len(parts) == 1:
        return parts[0]
    width = max(p.mask.shape[1] for p in parts)
    per_part = [p.keys_values() for p in parts]
    keys_values = []
    for layer in range(len(per_part[0])):
        ks = [_widen(kv[layer][0], width, at, dim=2) for kv in per_part]
        vs = [_widen(kv[layer][1], width, at, dim=2) for kv in per_part]
        keys_values.append((torch.cat(ks), torch.cat(vs)))
    generators = None
    if all(p.generators is not None for p in parts):
        generators = [g for p in parts for g in p.generators]  # type: ignore[union-attr]
    return _Batch(
        [i for p in parts for i in p.rows],
        _new_cache(model, keys_values),
        torch.cat([_widen(p.mask, width, at, dim=1) for p in parts]),
        torch.cat([p.next_pos for p in parts]),
        torch.cat([p.logits for p in parts]),
        generators,
    )


def _widen(t: torch.Tensor, width: int, at: int, dim: int) -> torch.Tensor:
    """``t`` with zero columns inserted at ``at`` along ``dim`` up to ``width``."""
    extra = width - t.shape[dim]
    if extra == 0:
        return t
    shape = list(t.shape)
    shape[dim] = extra
    head, tail = t.narrow(dim, 0, at), t.narrow(dim, at, t.shape[dim] - at)
    return torch.cat([head, t.new_zeros(shape), tail], dim=dim)


def _select(model: Any, batch: _Batch, keep: list[int], trim: bool) -> _Batch:
    """The batch's rows ``keep`` (batch positions). With ``trim``, also without the
    columns that are padding for all of them (what the finished rows alone used): a decode
    that rows keep joining would otherwise grow wider with every row that ever passed
    through it. (Not for sliding-window models: their cache layers hold only the window's
    columns, so one column index does not mean the same key in every layer.)"""
    index = torch.tensor(keep, device=batch.mask.device)
    batch.cache.batch_select_indices(index)
    mask = batch.mask[index]
    used = mask.any(dim=0)
    cache = batch.cache
    if trim and not bool(used.all()):
        columns = used.nonzero().squeeze(1)
        mask = mask[:, columns]
        trimmed = [(k[:, :, columns], v[:, :, columns]) for k, v in batch.keys_values()]
        cache = _new_cache(model, trimmed)
    return _Batch(
        [batch.rows[j] for j in keep],
        cache,
        mask,
        batch.next_pos[index],
        batch.logits[index],
        [batch.generators[j] for j in keep] if batch.generators is not None else None,
    )


def _advance(model: Any, batch: _Batch, tokens: torch.Tensor) -> None:
    """Feed each row its new token: one forward pass, new logits."""
    batch.mask = torch.cat([batch.mask, batch.mask.new_ones((batch.mask.shape[0], 1))], dim=1)
    out = model(
        input_ids=tokens[:, None],
        attention_mask=batch.mask,
        position_ids=batch.next_pos[:, None],
        past_key_values=batch.cache,
        use_cache=True,
    )
    batch.logits = out.logits[:, -1]
    batch.next_pos = batch.next_pos + 1


def _choose(
    batch: _Batch, params: GenerationParams, generator: torch.Generator | None
) -> torch.Tensor:
    """Each row's next token: greedy, or drawn from the row's own stream or the batch's."""
    if batch.generators is not None and params.temperature > 0:
        return _next_tokens_per_row(batch.logits, params, batch.generators)
    return _next_tokens(batch.logits, params, generator)


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
