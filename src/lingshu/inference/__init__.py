"""The inference layer: every part of Lingshu that runs a model goes through it.

Public API (import from ``lingshu.inference`` only, never from its modules):

- the data that flows through it: ``Message``, ``GenerationParams`` (the one type for
  decoding settings, from the command line to the decoder), ``Request``, ``Response``;
  chat messages are built by ``user_message``, ``assistant_message``, ``conversation``;
- model calls through a cache (evaluation, judge, curation): ``cached_calls``,
  ``CallBatch``, ``TextResponses``;
- the backend protocol and registry: ``Backend``, ``BackendConfig``, ``register_backend``,
  ``get_backend(name, **options)`` (``hf``, ``openai``, ``vllm``, ``dummy``),
  ``parse_backend_config``, ``describe_backend_options``, ``BACKENDS``;
- the engine that runs a loaded model (``lingshu.models.load_model``) for every local
  caller: ``Engine`` (``generate_many`` for lists of prompts, ``submit`` for a queue with
  streaming and cancellation), ``GenerationHandle``,
  ``GenerationResult``, ``StreamEvent``, ``EngineBusy``, ``GenerationError``; prompt
  encoding: ``EncodedPrompt``, ``PromptError``; ``SamplingParams`` is the deprecated
  spelling of ``GenerationParams.from_client`` (the engine's own type before issue 18).

Importing this package loads no heavy library (torch, transformers, vllm); backends import
them when they are used. See docs/inference.md for how a request flows.
"""

from lingshu.inference.cached import CallBatch, TextResponses, cached_calls
from lingshu.inference.encoding import EncodedPrompt, PromptError
from lingshu.inference.engine import (
    Engine,
    EngineBusy,
    GenerationError,
    GenerationHandle,
    GenerationResult,
    StreamEvent,
)
from lingshu.inference.messages import assistant_message, conversation, user_message
from lingshu.inference.backends.base import (
    BACKENDS,
    Backend,
    BackendConfig,
    describe_backend_options,
    get_backend,
    parse_backend_config,
    register_backend,
)
from lingshu.inference.types import GenerationParams, Message, Request, Response, SamplingParams

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendConfig",
    "CallBatch",
    "EncodedPrompt",
    "Engine",
    "EngineBusy",
    "GenerationError",
    "GenerationHandle",
    "GenerationParams",
    "GenerationResult",
    "Message",
    "PromptError",
    "Request",
    "Response",
    "SamplingParams",
    "StreamEvent",
    "TextResponses",
    "assistant_message",
    "cached_calls",
    "conversation",
    "describe_backend_options",
    "get_backend",
    "parse_backend_config",
    "register_backend",
    "user_message",
]
