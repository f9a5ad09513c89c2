"""vLLM generation for a GRPO stage: the stage's ``use_vllm`` / ``vllm_*`` fields checked and
mapped onto TRL 1.16's ``GRPOConfig`` arguments of the same names.

Why vLLM at all: without it TRL generates with transformers' ``generate``, which under
ZeRO-3 gathers the full policy on every GPU for the whole rollout (about 62 GiB at 32B) and
keeps a KV cache for every completion of the rollout at once; vLLM's paged KV cache lives
in a fixed share of the GPU (colocate) or on other GPUs (server). The memory arithmetic is
in ``lingshu.train.grpo.memory`` and docs/training-grpo.md.

Checked when the recipe loads (``vllm_field_problem``: no torch, no vllm import, so a laptop
can plan a vLLM recipe) and when the stage starts (``check_vllm_runtime``: vllm installed,
a GPU, a tensor-parallel size that divides the device count). Every message is one line.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from lingshu.core.errors import UserError

COLOCATE_ONLY = ("vllm_gpu_memory_utilization", "vllm_tensor_parallel_size")
SERVER_ONLY = ("vllm_server_host", "vllm_server_port")
VLLM_FIELDS = ("vllm_mode", *COLOCATE_ONLY, *SERVER_ONLY)
# The vLLM versions TRL 1.16 supports (trl/import_utils.py, is_vllm_available)
SUPPORTED_VLLM = ">=0.22,<=0.31"


def vllm_field_problem(config: Any) -> str | None:
    """Why the stage's vLLM fields contradict each other, or None. A field that would be
    silently ignored is an error: a recipe that sets ``vllm_mode: server`` and forgets
    ``use_vllm`` must not quietly generate with transformers. An explicit ``use_vllm: false``
    (``stages.N.use_vllm=false`` on a vLLM recipe) leaves the other fields idle on purpose,
    as ``vllm_mode=server`` on a colocate recipe leaves its colocate fields (the dry run
    lists them: ``idle_vllm_fields``)."""
    given = config.model_fields_set
    if not config.use_vllm and "use_vllm" not in given:
        stray = [f for f in VLLM_FIELDS if f in given]
        if stray:
            return f"{', '.join(stray)}: set but use_vllm is not; set use_vllm: true (or false, to leave them idle)"
    return None


def idle_vllm_fields(config: Any) -> list[str]:
    """Fields the recipe sets that the chosen generation mode does not use."""
    if not config.use_vllm:
        return [f for f in VLLM_FIELDS if f in config.model_fields_set]
    wrong = SERVER_ONLY if config.vllm_mode == "colocate" else COLOCATE_ONLY
    return [f for f in wrong if f in config.model_fields_set]


def vllm_trl_args(config: Any) -> dict[str, Any]:
    """The ``GRPOConfig`` keyword arguments for generation, every one explicit."""
    return {
        "use_vllm": config.use_vllm,
        "vllm_mode": config.vllm_mode,
        "vllm_gpu_memory_utilization": config.vllm_gpu_memory_utilization,
        "vllm_tensor_parallel_size": config.vllm_tensor_parallel_size,
        "vllm_server_host": config.vllm_server_host,
        "vllm_server_port": config.vllm_server_port,
        # vLLM reserves KV room for the model's full context (128K tokens for Qwen2.5-VL)
        # unless told the longest sequence a rollout can reach
        "vllm_max_model_length": config.max_prompt_length + config.max_completion_length,
        # TRL's default, stated: weights importance ratios by vLLM's sampling logprobs
        # (truncated importance sampling), since vLLM's kernels differ from training's
        "vllm_importance_sampling_correction": True,
    }


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def check_vllm_runtime(config: Any, *, use_cpu: bool, num_processes: int) -> None:
    """``UserError`` (one line) when the stage asks for vLLM and this machine cannot give it."""
    if not config.use_vllm:
        return
    name = config.name
    if not vllm_installed():
        raise UserError(
            f"stage {name!r}: use_vllm is true but vllm is not installed; vLLM generation needs "
            f"vllm{SUPPORTED_VLLM} (pip install 'vllm{SUPPORTED_VLLM}') and a CUDA GPU, or set "
            "use_vllm: false to generate with transformers"
        )
    if use_cpu:
        raise UserError(
            f"stage {name!r}: use_vllm is true but this run has no CUDA GPU (vLLM generates on "
            "GPUs only); run on GPUs or set use_vllm: false"
        )
    tp = config.vllm_tensor_parallel_size
    if config.vllm_mode == "colocate" and num_processes % tp:
        raise UserError(
            f"stage {name!r}: vllm_tensor_parallel_size {tp} does not divide the {num_processes} "
            "training processes (each vLLM engine spans that many of them); pick a divisor"
        )
