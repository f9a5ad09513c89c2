"""Model backends, registered by name: ``hf``, ``openai``, ``vllm``, ``dummy``.

A backend turns a batch of chat requests into responses (``base.Backend``). To add one,
write a module with a ``BackendConfig`` subclass and a ``Backend`` subclass decorated with
``@register_backend("name")``, and import it here. Heavy libraries (torch, transformers,
vllm) are imported when a backend is used, never when this package is imported.
"""

from lingshu.inference.backends.base import (
    BACKENDS,
    Backend,
    BackendConfig,
    describe_backend_options,
    get_backend,
    parse_backend_config,
    register_backend,
)
from lingshu.inference.backends.dummy import DummyBackend, DummyConfig, dummy_answer
from lingshu.inference.backends.hf import HFBackend, HFConfig
from lingshu.inference.backends.openai import OpenAIBackend, OpenAIConfig
from lingshu.inference.backends.vllm import VLLMBackend, VLLMConfig

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendConfig",
    "DummyBackend",
    "DummyConfig",
    "HFBackend",
    "HFConfig",
    "OpenAIBackend",
    "OpenAIConfig",
    "VLLMBackend",
    "VLLMConfig",
    "describe_backend_options",
    "dummy_answer",
    "get_backend",
    "parse_backend_config",
    "register_backend",
]
