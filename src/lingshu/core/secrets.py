"""The package's one rule for credentials (issue 22).

A credential (an API key, a token, a password) comes from the environment or from a file
the user points at; it is never part of a run's identity (rotating a key must not turn a
run into a different run, nor stop a resume) and never reaches a file the package writes
(config.json, manifests, data cards, logs). Where a command line or a configuration is
echoed, a credential shows as ``***``.

A field is a credential by its name: ``api_key``, ``token``, ``password``, ``secret`` and
names ending in ``_api_key`` / ``_token`` / ``_password`` / ``_secret`` (``judge_api_key``,
``hf_token``). Names such as ``max_tokens`` or ``token_count`` are not: they end in
``tokens`` / ``_count``, not ``_token``.
"""

from __future__ import annotations

from typing import Any

MASK = "***"
_EXACT = frozenset({"api_key", "apikey", "token", "password", "secret", "authorization"})
_SUFFIXES = ("_api_key", "_token", "_password", "_secret")


def is_secret_name(name: str) -> bool:
    """Whether a field or option called ``name`` holds a credential."""
    key = name.strip().lower().lstrip("-").replace("-", "_")
    return key in _EXACT or key.endswith(_SUFFIXES)


def without_secrets(obj: Any) -> Any:
    """``obj`` (dicts, lists, scalars) with every credential-named entry left out, at any
    depth: what may be hashed into an identity or written to a file."""
    if isinstance(obj, dict):
        return {k: without_secrets(v) for k, v in obj.items() if not is_secret_name(str(k))}
    if isinstance(obj, (list, tuple)):
        return [without_secrets(v) for v in obj]
    return obj


def masked(obj: Any) -> Any:
    """``obj`` with every credential-named value shown as ``***`` (what to echo)."""
    if isinstance(obj, dict):
        return {
            k: (MASK if is_secret_name(str(k)) and v is not None else masked(v))
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [masked(v) for v in obj]
    return obj


def masked_assignment(text: str) -> str:
    """``KEY=VALUE`` (an override, a ``--backend-opt``) with VALUE masked when KEY, or its
    last dotted part, names a credential."""
    key, eq, _ = text.partition("=")
    if eq and is_secret_name(key.rsplit(".", 1)[-1]):
        return f"{key}={MASK}"
    return text
