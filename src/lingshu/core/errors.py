"""Errors meant for people.

A ``UserError`` is a mistake the user can fix (a missing file, a malformed row, an unknown
name). The CLI prints its message as one line and exits non-zero, never a traceback. The
message should name the file / row / field, say what was expected and what to do.
"""

from __future__ import annotations


class UserError(Exception):
    """A fatal, user-fixable problem; printed as one line by the CLI (exit code 2)."""

    exit_code = 2


class DataError(UserError):
    """Benchmark data is missing, laid out wrongly or malformed."""


class SampleError(Exception):
    """A problem with one sample (e.g. a corrupt image): recorded per sample, the run goes on."""
