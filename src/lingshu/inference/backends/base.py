"""The one protocol every model backend implements: a batch of requests in, responses out.

Backends never score and never cache: the runner does both, so caching, resume and
sharding behave the same for every backend.

Each registered backend has a typed configuration, a pydantic model that rejects unknown
keys, so ``--backend-opt batch_sise=4`` fails at once with the field named instead of
being silently ignored. :func:`get_backend` validates the options into that config and
builds the backend; construction must stay cheap (no weights loaded), because a fully
cached rerun only needs :meth:`Backend.fingerprint`.

This module is reached through its package, ``lingshu.inference.backends``, whose
``__init__`` imports every built-in backend first: the lookups below therefore always see
them registered, and no backend module needs to import its package back (no circle).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from lingshu.core.errors import UserError
from lingshu.core.registry import Registry
from lingshu.inference.types import GenerationParams, Request, Response


class BackendConfig(BaseModel):
    """Base of every backend's options: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backend(ABC):
    """A model behind a narrow protocol.

    Registered backends set ``Config`` (their :class:`BackendConfig` subclass) and take
    an instance of it as their only constructor argument. Test doubles may skip both.
    """

    name: ClassVar[str]
    Config: ClassVar[type[BackendConfig]]

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model's outputs (weights hash or id, dtype, image limits...).

        Part of the response-cache key: two backends with equal fingerprints must give the
        same answers for the same request and generation parameters.
        """

    @abstractmethod
    def generate(self, requests: list[Request], params: GenerationParams) -> list[Response]:
        """Answer a batch, one ``Response`` per request, in order.

        A request that fails for a reason of its own (corrupt image, refused call after
        retries) gets ``Response(error=...)``; the rest of the batch still gets answers.
        """

    def preferred_batch_size(self) -> int:
        return 8

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, GPU memory)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BACKENDS: Registry[type[Backend]] = Registry("backend")


def register_backend(name: str) -> Callable[[type[Backend]], type[Backend]]:
    """Class decorator: ``@register_backend("hf")`` names the class and registers it."""

    def deco(cls: type[Backend]) -> type[Backend]:
        config = getattr(cls, "Config", None)
        if not (isinstance(config, type) and issubclass(config, BackendConfig)):
            raise TypeError(f"backend {name!r}: {cls.__name__}.Config must be a BackendConfig")
        cls.name = name
        BACKENDS.add(name, cls)
        return cls

    return deco


def get_backend(name: str, **options: Any) -> Backend:
    """Build backend ``name`` from options (as given in a config file or ``--backend-opt``).

    Raises ``UserError`` naming the bad option for unknown keys, missing required keys and
    values of the wrong type.
    """

    cls = BACKENDS.get(name)
    return cls(parse_backend_config(name, options))


def parse_backend_config(name: str, options: dict[str, Any]) -> BackendConfig:
    """Validate ``options`` into backend ``name``'s config class."""

    cls = BACKENDS.get(name)
    try:
        return cls.Config(**options)
    except ValidationError as e:
        raise UserError(_describe_validation_error(name, cls.Config, e)) from None


def describe_backend_options(name: str) -> list[tuple[str, str, str]]:
    """``(option, default, help)`` for each option of backend ``name``, for ``--help`` text."""

    rows = []
    for field, info in BACKENDS.get(name).Config.model_fields.items():
        default = "(required)" if info.is_required() else repr(info.get_default())
        rows.append((field, default, info.description or ""))
    return rows


def _describe_validation_error(
    name: str, config: type[BackendConfig], error: ValidationError
) -> str:
    """One line about the first problem, naming the option and what is accepted."""
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    valid = ", ".join(config.model_fields)
    msg = first["msg"].removeprefix("Value error, ")
    if not field:  # a check across options
        return f"backend {name!r}: {msg}"
    if first["type"] == "extra_forbidden":
        return f"backend {name!r}: unknown option {field!r}; valid options: {valid}"
    if first["type"] == "missing":
        info = config.model_fields.get(field)
        hint = f" ({info.description})" if info is not None and info.description else ""
        return f"backend {name!r}: option {field!r} is required{hint}"
    value = repr(first.get("input"))
    value = value if len(value) <= 80 else value[:77] + "..."
    return f"backend {name!r}: option {field!r} = {value}: {msg}"
