"""``hf``: any transformers checkpoint, batched.

MedEvalKit's HF path generates one sample at a time (BRIEF §4). Here requests are sorted
by prompt length (longest first, so an out-of-memory shows up in the first batch and
padding is minimal), cut into batches of ``batch_size`` (and at most ``max_batch_tokens``
padded prompt tokens), LEFT-padded with an attention mask, and decoded together. Greedy
results equal one-at-a-time decoding (tests and ``bench/eval_throughput.py`` check it).
Encoding and decoding are the inference engine's (``lingshu.inference.engine``): text-only
models go through its fast decoder (shared prompt prefix computed once, finished rows
dropped), vision-language models through ``model.generate``.

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

from typing import TYPE_CHECKING, Any

from pydantic import Field

from lingshu.core.errors import SampleError, UserError
from lingshu.inference.backends.base import Backend, BackendConfig, register_backend
from lingshu.inference.types import GenerationParams, Request, Response
from lingshu.models.loading import (
    LoadedModel,
    LoadOptions,
    ModelSource,
    load_model,
    model_fingerprint_for,
)

if TYPE_CHECKING:
    from lingshu.inference.engine import Engine


class _HFServing(BackendConfig):
    """The hf backend's own options (listed first in ``lingshu eval`` help)."""

    model: ModelSource = Field(
        description="local Hugging Face model directory, hub id, or 'smollm2-135m-instruct'"
    )
    batch_size: int = Field(8, ge=1, description="requests decoded together")
    max_batch_tokens: int | None = Field(
        None,
        ge=1,
        description="cap on batch rows x longest prompt (tokens); bounds memory for long prompts",
    )


class HFConfig(LoadOptions, _HFServing):
    """Options of the ``hf`` backend: its own (model, batching) and every field of
    :class:`~lingshu.models.LoadOptions` (dtype, device, image limits, attention), which are
    inherited rather than copied, so the backend, ``lingshu chat`` and ``lingshu serve`` read
    one definition with one set of checks."""

    def load_options(self) -> LoadOptions:
        """The loading part alone: the fingerprint hashes ``LoadOptions``, never this."""
        return LoadOptions(**{name: getattr(self, name) for name in LoadOptions.model_fields})


@register_backend("hf")
class HFBackend(Backend):
    Config = HFConfig

    def __init__(self, config: HFConfig) -> None:
        self.config = config
        self._options = config.load_options()  # validated here, before any weights load
        self._engine: Engine | None = None
        self._fingerprint: dict[str, Any] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from lingshu.inference.engine import Engine

            self._engine = Engine(
                load_model(self.config.model, self._options),
                max_batch_size=self.config.batch_size,
                max_batch_tokens=self.config.max_batch_tokens,
            )
        return self._engine

    @property
    def loaded(self) -> LoadedModel:
        return self.engine.loaded

    def fingerprint(self) -> dict[str, Any]:
        if self._fingerprint is None:
            inner = (
                self._engine.loaded.fingerprint
                if self._engine is not None
                else model_fingerprint_for(self.config.model, self._options)
            )
            self._fingerprint = {"backend": "hf", **inner}
        return self._fingerprint

    def preferred_batch_size(self) -> int:
        return self.config.batch_size

    def close(self) -> None:
        on_gpu = self._engine is not None and self._engine.loaded.device.startswith("cuda")
        if self._engine is not None:
            self._engine.close()
        self._engine = None
        if on_gpu:
            import torch

            torch.cuda.empty_cache()

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Response]:
        engine = self.engine
        if params.max_new_tokens > engine.context_length:
            # a budget no answer can reach is a mistake (issue 22: --max-new-tokens 10**12
            # was accepted and silently cut to the context); the engine still trims a budget
            # within the context to the room a long prompt leaves
            raise UserError(
                f"max_new_tokens {params.max_new_tokens} is more than the model's context of "
                f"{engine.context_length} tokens; ask for at most {engine.context_length} "
                "(--max-new-tokens or generation.max_new_tokens)"
            )
        responses: list[Response | None] = [None] * len(requests)
        prompts, where = [], []
        for i, request in enumerate(requests):
            try:
                prompts.append(engine.encode(request.messages))
                where.append(i)
            except SampleError as e:
                responses[i] = Response(error=str(e))
        results = engine.generate_many(prompts, params)
        for i, r in zip(where, results, strict=True):
            responses[i] = (
                Response(error=r.error)
                if r.error is not None
                else Response(
                    text=r.text,
                    prompt_tokens=r.prompt_tokens,
                    completion_tokens=r.completion_tokens,
                )
            )
        return [r if r is not None else Response(error="internal: no response") for r in responses]
