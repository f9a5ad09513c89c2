"""Accuracy (%) published in the Lingshu paper (BRIEF §4), shown beside our numbers when
the evaluated model is one of the paper's rows.

The paper reports one "Medbullets" figure; MedEvalKit evaluates op4 and op5 separately,
so it is shown beside neither rather than beside a guess.
"""

from __future__ import annotations

PUBLISHED: dict[str, dict[str, float]] = {
    "Qwen2.5-VL-7B": {
        "mmmu-med": 50.6, "vqa-rad": 64.5, "slake": 67.2, "pathvqa": 44.1, "pmc-vqa": 51.9,
        "omnimedvqa": 63.6, "medxpertqa-mm": 22.3, "mmlu-med": 73.4, "pubmedqa": 76.4,
        "medmcqa": 52.6, "medqa-usmle": 57.3, "medxpertqa-text": 12.8, "supergpqa-med": 26.3,
    },
    "Lingshu-7B": {
        "mmmu-med": 54.0, "vqa-rad": 67.9, "slake": 83.1, "pathvqa": 61.9, "pmc-vqa": 56.3,
        "omnimedvqa": 82.9, "medxpertqa-mm": 26.7, "mmlu-med": 74.5, "pubmedqa": 76.6,
        "medmcqa": 55.9, "medqa-usmle": 63.3, "medxpertqa-text": 16.5, "supergpqa-med": 26.3,
    },
    "Lingshu-32B": {
        "mmmu-med": 62.3, "vqa-rad": 76.5, "slake": 89.2, "pathvqa": 65.9, "pmc-vqa": 57.9,
        "omnimedvqa": 83.4, "medxpertqa-mm": 30.9, "mmlu-med": 84.7, "pubmedqa": 77.8,
        "medmcqa": 66.1, "medqa-usmle": 74.7, "medxpertqa-text": 22.7, "supergpqa-med": 41.1,
    },
    "GPT-4.1": {
        "mmmu-med": 75.2, "vqa-rad": 65.0, "slake": 72.2, "pathvqa": 55.5, "pmc-vqa": 55.2,
        "omnimedvqa": 75.5, "medxpertqa-mm": 45.2,
    },
}  # fmt: skip

# How a model name/path is recognised (lowercased, after the last "/").
_ALIASES = {
    "qwen2.5-vl-7b-instruct": "Qwen2.5-VL-7B",
    "qwen2.5-vl-7b": "Qwen2.5-VL-7B",
    "lingshu-7b": "Lingshu-7B",
    "lingshu-32b": "Lingshu-32B",
    "gpt-4.1": "GPT-4.1",
    "gpt-4.1-2025-04-14": "GPT-4.1",
}


def paper_row(model: str | None) -> str | None:
    """The paper's row for a model id or local path, if it is one of them."""
    if not model:
        return None
    name = str(model).rstrip("/").split("/")[-1].lower()
    return _ALIASES.get(name)


def published_accuracy(model: str | None, benchmark: str) -> float | None:
    row = paper_row(model)
    return PUBLISHED.get(row, {}).get(benchmark) if row else None
