"""Benchmarks, one module each, registered by name in ``BENCHMARKS``."""

from lingshu.eval.benchmarks import (  # noqa: F401  (importing registers)
    chexpert_plus,
    iu_xray,
    lingshu_demo,
    medbullets,
    medmcqa,
    medqa_usmle,
    medxpertqa,
    mimic_cxr,
    mmlu_med,
    mmmu_med,
    omnimedvqa,
    pathvqa,
    pmc_vqa,
    pubmedqa,
    slake,
    supergpqa_med,
    vqa_rad,
)
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark, get_benchmark

__all__ = ["BENCHMARKS", "Benchmark", "get_benchmark"]
