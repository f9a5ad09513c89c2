"""``vllm``: vLLM's offline engine, for fast evaluation on GPUs.

vLLM is an optional extra (GPU only, pins its own torch), imported only when this
backend is chosen. Each ``generate`` call hands the whole list of conversations to
``LLM.chat``, which batches them continuously; images go in as data URIs (the same bytes
the ``openai`` backend would send), and Qwen2.5-VL's ``min_pixels`` / ``max_pixels`` reach
the image processor through ``mm_processor_kwargs``. Decoding follows ``GenerationParams``
(temperature 0 is greedy in vLLM too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from lingshu.core.errors import SampleError, UserError
from lingshu.inference import messages as _messages
from lingshu.inference.decoding import cut_at_stop
from lingshu.inference.backends.base import Backend, BackendConfig, register_backend
from lingshu.inference.types import GenerationParams, Request, Response
from lingshu.models.fingerprint import model_fingerprint
from lingshu.models.loading import DType, ModelSource, detect_kind, resolve_model_dir

_INSTALL_HINT = "vllm is not installed: pip install 'lingshu[vllm]' (GPU only)"


class VLLMConfig(BackendConfig):
    model: ModelSource = Field(
        description="local Hugging Face model directory, hub id, or 'smollm2-135m-instruct'"
    )
    batch_size: int = Field(256, ge=1, description="conversations handed to the engine at once")
    dtype: DType = Field("auto", description="auto = bfloat16 (as the hf backend on GPU)")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs to shard the model over")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="fraction of GPU memory vLLM may use"
    )
    max_model_len: int | None = Field(
        None, ge=1, description="context length cap (saves KV-cache memory)"
    )
    min_pixels: int | None = Field(
        None, ge=1, description="Qwen2.5-VL: smallest image area (pixels)"
    )
    max_pixels: int | None = Field(
        None, ge=1, description="Qwen2.5-VL: largest image area (pixels)"
    )
    max_images_per_prompt: int = Field(8, ge=1, description="vLLM's limit_mm_per_prompt for images")
    seed: int = Field(0, description="engine seed")
    enforce_eager: bool = Field(False, description="disable CUDA graphs (less memory, slower)")

    @model_validator(mode="after")
    def _check_pixels(self) -> VLLMConfig:
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} exceeds max_pixels {self.max_pixels}")
        return self


@register_backend("vllm")
class VLLMBackend(Backend):
    Config = VLLMConfig

    def __init__(self, config: VLLMConfig) -> None:
        self.config = config
        self._vllm = _import_vllm()  # fail now, with the install hint, not mid-run
        self._llm: Any = None
        self._model_dir: Path | None = None
        self._fingerprint: dict[str, Any] | None = None

    @property
    def model_dir(self) -> Path:
        if self._model_dir is None:
            self._model_dir = resolve_model_dir(self.config.model)
        return self._model_dir

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.config.dtype == "auto" else self.config.dtype

    def fingerprint(self) -> dict[str, Any]:
        if self._fingerprint is None:
            inner = model_fingerprint(
                self.model_dir,
                dtype=self.dtype,
                min_pixels=self.config.min_pixels,
                max_pixels=self.config.max_pixels,
            )
            self._fingerprint = {"backend": "vllm", **inner}
        return self._fingerprint

    def preferred_batch_size(self) -> int:
        return self.config.batch_size

    def close(self) -> None:
        self._llm = None

    @property
    def engine(self) -> Any:
        if self._llm is None:
            self._llm = self._vllm.LLM(**self.engine_kwargs())
        return self._llm

    def engine_kwargs(self) -> dict[str, Any]:
        """Arguments for ``vllm.LLM``; multimodal settings only for multimodal models."""
        c = self.config
        kwargs: dict[str, Any] = dict(
            model=str(self.model_dir),
            dtype=self.dtype,
            tensor_parallel_size=c.tensor_parallel_size,
            gpu_memory_utilization=c.gpu_memory_utilization,
            seed=c.seed,
            enforce_eager=c.enforce_eager,
        )
        if c.max_model_len is not None:
            kwargs["max_model_len"] = c.max_model_len
        if detect_kind(self.model_dir) != "causal_lm":
            kwargs["limit_mm_per_prompt"] = {"image": c.max_images_per_prompt}
            pixels = {
                k: v for k, v in (("min_pixels", c.min_pixels), ("max_pixels", c.max_pixels)) if v
            }
            if pixels:
                kwargs["mm_processor_kwargs"] = pixels
        elif c.min_pixels or c.max_pixels:
            raise UserError(
                f"{self.model_dir}: min_pixels/max_pixels apply to vision-language models; "
                "this is a text-only model, drop those options"
            )
        return kwargs

    def sampling_params(self, params: GenerationParams) -> Any:
        return self._vllm.SamplingParams(
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_new_tokens,
            seed=params.seed,
            stop=list(params.stop) or None,
        )

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Response]:
        responses: list[Response | None] = [None] * len(requests)
        todo: list[tuple[int, list[dict[str, Any]]]] = []
        for i, r in enumerate(requests):
            try:
                todo.append((i, _messages.to_openai(r.messages)))
            except SampleError as e:
                responses[i] = Response(error=str(e))
        if todo:
            sampling = self.sampling_params(params)
            for (i, _), response in zip(
                todo, self._chat([c for _, c in todo], sampling, params), strict=True
            ):
                responses[i] = response
        return [r if r is not None else Response(error="internal: no response") for r in responses]

    def _chat(
        self, conversations: list[Any], sampling: Any, params: GenerationParams
    ) -> list[Response]:
        """One engine call; if it fails as a whole, retry one conversation at a time so that
        only the conversations at fault carry an error."""
        engine = self.engine  # a failure to start the engine is not any request's fault
        try:
            outputs = engine.chat(conversations, sampling_params=sampling, use_tqdm=False)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - isolate the request at fault
            if len(conversations) == 1:
                return [Response(error=f"{type(e).__name__}: {str(e).strip()[:300]}")]
            return [self._chat([c], sampling, params)[0] for c in conversations]
        return [_to_response(out, params) for out in outputs]


def _to_response(out: Any, params: GenerationParams) -> Response:
    completion = out.outputs[0]
    text, _ = cut_at_stop(completion.text, params.stop)
    return Response(
        text=text,
        prompt_tokens=len(out.prompt_token_ids or []),
        completion_tokens=len(completion.token_ids or []),
    )


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise UserError(_INSTALL_HINT) from None
    return vllm
