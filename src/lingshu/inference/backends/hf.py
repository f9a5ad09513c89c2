"""``hf``: any transformers checkpoint, batched.

MedEvalKit's HF path generates one sample at a time (BRIEF §4). Here requests are sorted
by prompt length (longest first, so an out-of-memory shows up in the first batch and
padding is minimal), cut into batches of ``batch_size`` (and at most ``max_batch_tokens``
padded prompt tokens), LEFT-padded with an attention mask, and decoded together. Greedy
results equal one-at-a-time decoding (tests and ``bench/eval_throughput.py`` check it).
Text-only models go through ``_causal_decode`` (shared prompt prefix computed once,
finished rows dropped); vision-language models through ``model.generate``.

Decoding follows ``GenerationParams`` exactly: greedy when ``temperature == 0``, else
sampling seeded with ``seed``. A checkpoint's own sampling defaults (Qwen2.5-VL ships
``repetition_penalty=1.05``, ``top_k=1``...) are overridden, so that every backend decodes
the same way and a run's config says everything that shaped its outputs.

A request whose image cannot be read gets ``Response(error="<file>: <reason>")``; its
batch still runs. If a whole batch fails (e.g. out of memory), its requests are retried
one by one so that only the culprits carry an error.

The model loads on the first ``generate`` call: a fully cached rerun needs only
``fingerprint()``, which hashes files.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, model_validator

from lingshu.core.errors import SampleError, UserError
from lingshu.inference import messages as _messages
from lingshu.inference.registry import Backend, BackendConfig, register_backend
from lingshu.inference.types import GenerationParams, Request, Response
from lingshu.models.loading import (
    AttnImplementation,
    Device,
    DType,
    LoadedModel,
    LoadOptions,
    ModelSource,
    load_model,
    model_fingerprint_for,
)

log = logging.getLogger(__name__)


class HFConfig(BackendConfig):
    model: ModelSource = Field(
        description="local Hugging Face model directory, hub id, or 'smollm2-135m-instruct'"
    )
    batch_size: int = Field(8, ge=1, description="requests decoded together")
    max_batch_tokens: int | None = Field(
        None,
        ge=1,
        description="cap on batch rows x longest prompt (tokens); bounds memory for long prompts",
    )
    dtype: DType = Field("auto", description="auto = bfloat16 on CUDA, float32 on CPU")
    device: Device = Field("auto", description="auto, cpu, cuda or cuda:N")
    min_pixels: int | None = Field(
        None, ge=1, description="Qwen2.5-VL: smallest image area (pixels)"
    )
    max_pixels: int | None = Field(
        None, ge=1, description="Qwen2.5-VL: largest image area (pixels)"
    )
    attn_implementation: AttnImplementation = Field(
        "auto", description="auto = flash_attention_2 on CUDA when installed, else sdpa"
    )

    @model_validator(mode="after")
    def _check_pixels(self) -> HFConfig:
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} exceeds max_pixels {self.max_pixels}")
        return self

    def load_options(self) -> LoadOptions:
        return LoadOptions(
            dtype=self.dtype,
            device=self.device,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            attn_implementation=self.attn_implementation,
        )


@dataclass
class _Prepared:
    """One request, rendered: the chat-templated prompt, its images and a length estimate."""

    index: int
    text: str
    images: list[Any] = field(default_factory=list)
    length: int = 0
    token_ids: list[int] | None = None  # text-only models: the prompt, tokenized


@register_backend("hf")
class HFBackend(Backend):
    Config = HFConfig

    def __init__(self, config: HFConfig) -> None:
        self.config = config
        self._options = config.load_options()  # validated here, before any weights load
        self._loaded: LoadedModel | None = None
        self._fingerprint: dict[str, Any] | None = None
        # Text-only models use the lean decoder unless it turns out not to fit the model
        # (e.g. state-space layers without a key/value cache); then ``generate`` for good.
        self._lean_decoder = True

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_model(self.config.model, self._options)
        return self._loaded

    def fingerprint(self) -> dict[str, Any]:
        if self._fingerprint is None:
            inner = (
                self._loaded.fingerprint
                if self._loaded is not None
                else model_fingerprint_for(self.config.model, self._options)
            )
            self._fingerprint = {"backend": "hf", **inner}
        return self._fingerprint

    def preferred_batch_size(self) -> int:
        return self.config.batch_size

    def close(self) -> None:
        on_gpu = self._loaded is not None and self._loaded.device.startswith("cuda")
        self._loaded = None
        if on_gpu:
            import torch

            torch.cuda.empty_cache()

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Response]:
        responses: list[Response | None] = [None] * len(requests)
        prepared: list[_Prepared] = []
        for i, request in enumerate(requests):
            try:
                prepared.append(self._prepare(i, request))
            except SampleError as e:
                responses[i] = Response(error=str(e))
        prepared.sort(key=lambda p: (-p.length, p.index))
        for batch in _batches(prepared, self.config.batch_size, self.config.max_batch_tokens):
            for p, response in zip(batch, self._run_isolating_failures(batch, params), strict=True):
                responses[p.index] = response
        return [r if r is not None else Response(error="internal: no response") for r in responses]

    # -- preparing requests ---------------------------------------------------------------

    def _prepare(self, index: int, request: Request) -> _Prepared:
        from lingshu.models.images import load_image

        lm = self.loaded
        if lm.kind == "causal_lm":
            messages = _messages.text_only(request.messages)
            templated = lm.tokenizer.chat_template is not None
            if templated:
                text = lm.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            else:  # a base model: the bare text
                text = "\n".join(m["content"] for m in messages)
            ids = lm.tokenizer(text, add_special_tokens=not templated).input_ids
            return _Prepared(index, text, [], len(ids), ids)
        images = [load_image(path) for path in _messages.image_paths(request.messages)]
        text = lm.processor.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True
        )
        length = len(lm.tokenizer(text).input_ids) + sum(
            _image_tokens(lm.processor, im) for im in images
        )
        return _Prepared(index, text, images, length)

    # -- running batches ------------------------------------------------------------------

    def _run_isolating_failures(
        self, batch: list[_Prepared], params: GenerationParams
    ) -> list[Response]:
        try:
            return self._run_batch(batch, params)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - one bad request must not sink the batch
            if len(batch) == 1:
                return [Response(error=f"{type(e).__name__}: {_first_line(e)}")]
            return [self._run_isolating_failures([p], params)[0] for p in batch]

    def _run_batch(self, batch: list[_Prepared], params: GenerationParams) -> list[Response]:
        import torch

        from lingshu.inference._causal_decode import decode_causal  # imports torch

        lm = self.loaded
        eos = set(_eos_ids(lm))
        with torch.inference_mode():
            if lm.kind == "causal_lm" and self._lean_decoder:
                rows = [p.token_ids or [] for p in batch]
                try:
                    new_tokens = decode_causal(
                        lm.model,
                        rows,
                        params,
                        eos_ids=eos,
                        pad_id=lm.tokenizer.pad_token_id,
                        stopped=self._stop_check(params),
                    )
                    prompt_counts = [len(r) for r in rows]
                except (TypeError, AttributeError, NotImplementedError, ValueError) as e:
                    log.warning(
                        "%s: the batched text decoder does not fit this model (%s: %s); "
                        "using transformers' generate instead",
                        self.config.model, type(e).__name__, str(e).splitlines()[0][:200],
                    )  # fmt: skip
                    self._lean_decoder = False
                    new_tokens, prompt_counts = self._generate(batch, params)
            else:
                new_tokens, prompt_counts = self._generate(batch, params)
        responses = []
        for row, n_prompt in zip(new_tokens, prompt_counts, strict=True):
            n = next((k + 1 for k, t in enumerate(row) if t in eos), len(row))
            text = lm.tokenizer.decode(row[:n], skip_special_tokens=True)
            text, _ = _messages.cut_at_stop(text, params.stop)
            responses.append(Response(text=text, prompt_tokens=int(n_prompt), completion_tokens=n))
        return responses

    def _stop_check(self, params: GenerationParams) -> Any:
        if not params.stop:
            return None
        tokenizer = self.loaded.tokenizer

        def stopped(tokens: list[int]) -> bool:
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            return any(s in text for s in params.stop)

        return stopped

    def _generate(
        self, batch: list[_Prepared], params: GenerationParams
    ) -> tuple[list[list[int]], list[int]]:
        """``model.generate`` on a left-padded batch: vision-language models (images,
        mRoPE...), and text-only models the lean decoder does not fit."""
        import torch

        lm = self.loaded
        inputs = self._encode(batch)
        prompt_len = inputs["input_ids"].shape[1]
        extra = {"tokenizer": lm.tokenizer} if params.stop else {}
        devices = list(range(torch.cuda.device_count()))
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(params.seed)  # sampling is reproducible; global RNG untouched
            output = lm.model.generate(
                **inputs, generation_config=_generation_config(lm, params), **extra
            )
        return output[:, prompt_len:].tolist(), inputs["attention_mask"].sum(dim=1).tolist()

    def _encode(self, batch: list[_Prepared]) -> Any:
        lm = self.loaded
        texts = [p.text for p in batch]
        if lm.kind == "causal_lm":
            templated = lm.tokenizer.chat_template is not None  # the template wrote BOS etc.
            enc = lm.tokenizer(
                texts, padding=True, return_tensors="pt", add_special_tokens=not templated
            )
            return enc.to(lm.model.device)
        images: Any
        if not any(p.images for p in batch):
            images = None
        elif lm.kind == "qwen2_5_vl":
            images = [im for p in batch for im in p.images]  # consumed in prompt order
        else:
            images = [p.images for p in batch]
        enc = lm.processor(
            text=texts, images=images, padding=True, return_tensors="pt", add_special_tokens=False
        )
        return enc.to(lm.model.device, dtype=lm.model.dtype)


def _eos_ids(lm: LoadedModel) -> list[int]:
    """The checkpoint's end-of-generation ids plus the tokenizer's (chat turn end)."""
    eos = lm.model.generation_config.eos_token_id
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if lm.tokenizer.eos_token_id is not None and lm.tokenizer.eos_token_id not in ids:
        ids.append(lm.tokenizer.eos_token_id)
    return ids


def _generation_config(lm: LoadedModel, params: GenerationParams) -> Any:
    """A config that decodes exactly as ``params`` says, whatever the checkpoint defaults.

    transformers fills every unset field from the checkpoint's ``generation_config.json``,
    so the fields that change greedy or sampled outputs are set explicitly.
    """
    from transformers import GenerationConfig

    common: dict[str, Any] = dict(
        max_new_tokens=params.max_new_tokens,
        eos_token_id=_eos_ids(lm),
        pad_token_id=lm.tokenizer.pad_token_id,
        num_beams=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        min_length=0,
    )
    if params.stop:
        common["stop_strings"] = list(params.stop)
    if params.temperature == 0:
        # Neutral values for the sampling knobs: unset, they would be inherited from the
        # checkpoint and make transformers warn on every call that greedy ignores them.
        return GenerationConfig(
            do_sample=False,
            temperature=1.0,
            top_p=1.0,
            top_k=50,
            typical_p=1.0,
            epsilon_cutoff=0.0,
            eta_cutoff=0.0,
            **common,
        )
    return GenerationConfig(
        do_sample=True,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=0,
        min_p=0.0,
        typical_p=1.0,
        epsilon_cutoff=0.0,
        eta_cutoff=0.0,
        **common,
    )


def _batches(
    items: list[_Prepared], batch_size: int, max_batch_tokens: int | None
) -> list[list[_Prepared]]:
    """Consecutive runs of ``items`` (sorted longest first), each of at most ``batch_size``
    rows and, when set, at most ``max_batch_tokens`` padded tokens (rows x longest)."""
    batches: list[list[_Prepared]] = []
    current: list[_Prepared] = []
    for item in items:
        longest = max([item.length] + [p.length for p in current])
        too_many_tokens = (
            max_batch_tokens is not None and longest * (len(current) + 1) > max_batch_tokens
        )
        if current and (len(current) >= batch_size or too_many_tokens):
            batches.append(current)
            current = []
        current.append(item)
    if current:
        batches.append(current)
    return batches


def _image_tokens(processor: Any, image: Any) -> int:
    """Roughly how many tokens an image becomes, for sorting only.

    Qwen2-VL-family processors resize the area into [min_pixels, max_pixels] and emit one
    token per (patch x merge)^2 pixels; other processors count as a fixed 256.
    """
    ip = getattr(processor, "image_processor", None)
    size = getattr(ip, "size", None)
    patch, merge = getattr(ip, "patch_size", None), getattr(ip, "merge_size", None)
    lo = getattr(size, "shortest_edge", None)
    hi = getattr(size, "longest_edge", None)
    if not (patch and merge and lo and hi):
        return 256
    area = min(max(image.width * image.height, lo), hi)
    return math.ceil(area / (patch * merge) ** 2)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
