"""The data area: curating training data, and preparing report benchmarks' releases.

Two rooms:

- ``lingshu.data.curate`` (``lingshu data run | ops | readers | executors | recipes``):
  typed YAML recipes that read any supported layout into shards, run registered ops on
  them (filters, dedup, decontamination against the evaluation benchmarks,
  de-identification, modality labels, synthesis), and write training JSONL with every
  exclusion explained, a summary, a data card and per-stage mixtures. docs/curation.md.
- ``lingshu.data.prepare`` (``lingshu data prepare``): the report-generation test sets
  (MIMIC-CXR, CheXpert Plus, IU-Xray) built from the datasets' official files.
  docs/report-benchmarks.md.

This module is the area's face: other areas (the pipeline) import from here only. Names
resolve lazily, so importing ``lingshu.data`` loads neither the ops nor pandas-heavy
preparers until one is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_FACE = {
    "Recipe": "lingshu.data.curate.recipe",
    "load_recipe": "lingshu.data.curate.recipe",
    "parse_recipe": "lingshu.data.curate.recipe",
    "resolve_recipe": "lingshu.data.curate.recipe",
    "shipped_recipes": "lingshu.data.curate.recipe",
    "Record": "lingshu.data.curate.record",
    "RunResult": "lingshu.data.curate.writer",
    "run_recipe": "lingshu.data.curate.runner",
    "PrepareOptions": "lingshu.data.prepare.common",
    "PrepareSummary": "lingshu.data.prepare.common",
    "prepare_mimic_cxr": "lingshu.data.prepare.mimic_cxr",
    "prepare_chexpert_plus": "lingshu.data.prepare.chexpert_plus",
    "prepare_iu_xray": "lingshu.data.prepare.iu_xray",
}

__all__ = sorted(_FACE)


def __getattr__(name: str) -> Any:
    if name not in _FACE:
        raise AttributeError(f"module 'lingshu.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_FACE[name]), name)


def __dir__() -> list[str]:
    return __all__
