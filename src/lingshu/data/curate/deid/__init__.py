"""De-identification: detectors for HIPAA Safe Harbor PHI in free text, span clean-up, scoring.

``find_phi`` is what the ``deidentify`` op runs; ``score`` measures any detector on the
labelled corpus in ``tests/golden/deid`` (``bench/deid_recall.py`` prints the table).
"""

from __future__ import annotations

from lingshu.data.curate.deid.names import find_names
from lingshu.data.curate.deid.patterns import (
    find_addresses,
    find_ages,
    find_dates,
    find_emails,
    find_ids,
    find_phones,
)
from lingshu.data.curate.deid.spans import Span, merge, replace, snap

CATEGORIES = ("NAME", "DATE", "AGE", "PHONE", "EMAIL", "ADDRESS", "ID")
_FINDERS = {
    "EMAIL": find_emails, "PHONE": find_phones, "ID": find_ids, "DATE": find_dates,
    "AGE": find_ages, "ADDRESS": find_addresses, "NAME": find_names,
}
# Overlap ties go to the more specific kind (an email contains a name; a date can look
# like a phone).
PRIORITY = ("EMAIL", "AGE", "DATE", "PHONE", "ID", "ADDRESS", "NAME")


def find_phi(text: str, categories: tuple[str, ...] | list[str] = CATEGORIES) -> list[Span]:
    """Sorted, non-overlapping, word-aligned ``(start, end, category)`` PHI spans."""
    spans: list[Span] = []
    for cat in categories:
        spans.extend(_FINDERS[cat](text))
    return merge(snap(text, spans), PRIORITY)


def scrub(
    text: str, categories: tuple[str, ...] | list[str] = CATEGORIES
) -> tuple[str, list[Span]]:
    """``text`` with each PHI span replaced by ``[CATEGORY]``, and the spans replaced."""
    spans = find_phi(text, categories)
    return replace(text, spans), spans


__all__ = ["CATEGORIES", "find_phi", "scrub"]
