"""Fixtures of the curation tests; plain helpers live in curation_helpers.py (a unique module
name: several test folders have a conftest.py, so ``from conftest import`` is ambiguous)."""

from curation_helpers import crafted  # noqa: F401  (fixture)
