"""Serving: an OpenAI-compatible app over the inference layer's engine.

    from lingshu.models import load_model
    from lingshu.serve import GenerationEngine, ServerSettings, create_app

    engine = GenerationEngine(load_model("path/to/model"), max_batch_size=8)
    app = create_app(engine, ServerSettings(served_model_name="my-model"))

``lingshu serve`` and ``lingshu chat`` are the command-line faces of this package.
"""

from lingshu.inference import (
    Engine,
    EngineBusy,
    GenerationError,
    GenerationHandle,
    GenerationParams,
    GenerationResult,
    PromptError,
    StreamEvent,
)
from lingshu.serve.app import create_app
from lingshu.serve.images import ImagePolicy
from lingshu.serve.settings import ServerSettings

GenerationEngine = Engine
"""The engine under its serving name (``lingshu.inference.Engine``)."""

__all__ = [
    "EngineBusy",
    "GenerationEngine",
    "GenerationError",
    "GenerationHandle",
    "GenerationParams",
    "GenerationResult",
    "ImagePolicy",
    "PromptError",
    "ServerSettings",
    "StreamEvent",
    "create_app",
]
