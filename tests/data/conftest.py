"""Fixtures of tests/data: fake dataset releases (see report_releases.py)."""

from report_releases import chexpert_root, iu_release, mimic_root  # noqa: F401
