"""One string-keyed registry per extension point (benchmarks, profiles, backends, metrics).

Duplicate names raise at import time; unknown names raise a ``UserError`` that lists what
exists, so a typo on the command line is a one-line fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from lingshu.core.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of extensions of one kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@BENCHMARKS.register("vqa-rad")``."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise ValueError(f"duplicate {self.kind} name {name!r}")
        self._items[name] = obj

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UserError(unknown_name_message(self.kind, name, self._items)) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The closest known name to a mistyped one, or None when nothing is close."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    if not close:  # a case slip ("VQA-RAD") is close whatever its length
        close = [k for k in known if k.lower() == name.lower()][:1]
    return close[0] if close else None


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown benchmark 'vqa-rda'; did you mean 'vqa-rad'? expected one of: ...``"""
    known = sorted(known)
    guess = did_you_mean(name, known)
    hint = f"; did you mean {guess!r}?" if guess else ";"
    return f"unknown {kind} {name!r}{hint} expected one of: {', '.join(known) or '(none)'}"
