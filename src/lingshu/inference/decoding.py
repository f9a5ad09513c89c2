"""Generated token ids -> text pieces safe to send, with stop sequences.

Two things make naive per-token decoding wrong. A character can span several byte-level
tokens, so decoding a prefix may end in U+FFFD until the rest arrives; and a stop sequence
can arrive split over tokens, so text that might be its beginning must not be sent until
it is known not to be. The whole generation is decoded after each token (answers are
short; this is exact for every tokenizer) and only the part that can no longer change or
be cut is released.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_REPLACEMENT = "\ufffd"


@dataclass
class IncrementalText:
    """The text of one generation as tokens arrive.

    ``add`` returns the newly releasable text and whether a stop sequence was hit (the
    text then ends right before it, as OpenAI's does). ``finish`` releases what was held
    back. The concatenation of everything returned equals :attr:`text`.
    """

    tokenizer: Any
    stops: tuple[str, ...] = ()
    lock: Any = field(default_factory=threading.RLock)
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    _sent: int = 0

    def add(self, token_id: int) -> tuple[str, bool]:
        self.token_ids.append(token_id)
        with self.lock:
            full = self.tokenizer.decode(self.token_ids, skip_special_tokens=True)
        cut = _first_stop(full, self.stops)
        if cut is not None:
            self.text = full[:cut]
            return self._release(len(self.text)), True
        self.text = full
        return self._release(self._safe_length(full)), False

    def finish(self) -> str:
        """Release the rest (a trailing incomplete character is dropped, as decoders do)."""
        self.text = self.text.rstrip(_REPLACEMENT)
        return self._release(len(self.text))

    def _release(self, upto: int) -> str:
        if upto <= self._sent:
            return ""
        piece = self.text[self._sent : upto]
        self._sent = upto
        return piece

    def _safe_length(self, full: str) -> int:
        n = len(full)
        while n > self._sent and full[n - 1] == _REPLACEMENT:
            n -= 1
        # Hold back the longest tail that could still grow into a stop sequence.
        hold = max((_partial_stop(full, s) for s in self.stops), default=0)
        return max(min(n, len(full) - hold), self._sent)


def _partial_stop(text: str, stop: str) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of ``stop``."""
    for k in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:k]):
            return k
    return 0


def _first_stop(text: str, stops: Iterable[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def cut_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string (excluded), and whether one was found."""
    cut = _first_stop(text, stop)
    return (text[:cut], True) if cut is not None else (text, False)
