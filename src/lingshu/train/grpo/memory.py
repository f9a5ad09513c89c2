"""Memory per GPU of a GRPO stage, for the dry run: what TRL 1.16's GRPOTrainer holds.

An estimate stated as such (docs/training-grpo.md, "GRPO at scale", works the 7B recipe by
hand). Per device, in bytes, with P the parameters, W the devices, b the bytes of the
training dtype (2 for bf16, 4 for fp32):

- policy states, after Rajbhandari et al. 2020 (ZeRO, §3): DeepSpeed keeps b of weights, b
  of gradients and K = 12 bytes of fp32 master weights + Adam moments per parameter (K = 8
  in fp32: the weights are the master copy); plain PyTorch / DDP / FSDP keep the weights in
  fp32 whatever the precision (``stage.policy_dtype``: bf16 is autocast), so 4 + 4 + 8
  bytes. ZeRO-1 divides the optimizer state by W, ZeRO-2 the gradients too, ZeRO-3 and FSDP
  the weights too;
- reference model (beta > 0; TRL reloads it from the policy's folder in the policy's dtype):
  the policy's bytes per weight x P, divided by W under ZeRO-3 / FSDP (TRL shards it the
  same way), whole otherwise;
- generation, by backend:
  - transformers ``generate`` (no vLLM): under ZeRO-3 / FSDP TRL gathers the full policy for
    the rollout (``ds3_gather_for_generation``, the stored weights' bytes x P on every GPU), and the KV cache holds
    every completion of the local rollout at once: ``per_device_batch x steps_per_generation``
    sequences x (prompt + completion) tokens x 2 (K, V) x layers x KV heads x head dim x b.
    Both are freed before the training passes, so they count against the activations, not
    on top of them;
  - vLLM colocate: vLLM reserves ``vllm_gpu_memory_utilization`` x the GPU's memory (weights
    / tensor-parallel size + paged KV cache) for the whole run, on top of training;
  - vLLM server: nothing on the training GPUs (the server has its own);
- activations of one training pass, ``per_device_batch`` completions x (prompt + completion)
  tokens = n tokens, after Korthikanti et al. 2022 (eq. 2, flash attention, no tensor
  parallelism): 34 x n x hidden bytes per decoder layer; with gradient checkpointing only
  each layer's input (2 x n x hidden per layer) plus one layer recomputed (34 x n x hidden);
  these are 16-bit activations, doubled in fp32.
  No logits term: TRL 1.16 scores completions with a fused LM head that never materialises
  (tokens x vocabulary) logits (``trl.trainer.utils.add_fused_lm_head``).

Peak = policy states + reference + (vLLM colocate share) + max(generation with transformers,
activations). Left out, and the reason to keep the headroom below: the vision tower's
activations (image tokens are counted as prompt tokens of the language model), DeepSpeed's
prefetch and bucket buffers, the CUDA context and allocator fragmentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 2**30
GPU_GIB = 80.0  # the A100 / H100 80 GB GPUs the shipped 7B and 32B recipes target
USABLE = 0.9  # share of GPU_GIB a plan may fill: context, fragmentation, buffers (above)
ADAM_FP32_BYTES = 12  # fp32 master weights + momentum + variance (Rajbhandari et al. 2020, K=12)


@dataclass(frozen=True)
class TextArch:
    """What the estimate needs of the language model."""

    hidden: int
    layers: int
    kv_heads: int
    head_dim: int

    @classmethod
    def from_config(cls, cfg: Any) -> TextArch:
        text = getattr(cfg, "text_config", cfg)
        heads = text.num_attention_heads
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
        return cls(text.hidden_size, text.num_hidden_layers,
                   getattr(text, "num_key_value_heads", None) or heads, head_dim)

    def kv_bytes_per_token(self, b: int) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * b


def zero_stage(strategy: str) -> int:
    """0 = nothing sharded (single, ddp); 1-3 = DeepSpeed ZeRO-n; FSDP shards like ZeRO-3."""
    if strategy.startswith("deepspeed-zero"):
        return int(strategy.removeprefix("deepspeed-zero"))
    return 3 if strategy == "fsdp" else 0


def dtype_bytes(stage_precision: str, recipe_precision: str) -> int:
    """Bytes per weight: the stage's precision, else the recipe's; ``auto`` plans for a GPU
    (bf16)."""
    choice = stage_precision if stage_precision != "auto" else recipe_precision
    return 4 if choice == "fp32" else 2


def policy_states(params: int, *, zero: int, deepspeed: bool, b: int, world: int) -> dict[str, float]:
    """Weights, gradients and optimizer state per device, bytes (every parameter trained);
    ``b``: bytes of the training dtype, which only DeepSpeed stores the weights in."""
    w = b if deepspeed else 4
    opt = ADAM_FP32_BYTES if deepspeed and b == 2 else 8
    return {
        "weights": w * params / (world if zero >= 3 else 1),
        "gradients": w * params / (world if zero >= 2 else 1),
        "optimizer": opt * params / (world if zero >= 1 else 1),
    }


def activation_bytes(tokens: int, arch: TextArch, checkpointing: bool, b: int = 2) -> float:
    """One training pass over ``tokens`` tokens (Korthikanti et al. 2022, eq. 2, counts 16-bit
    activations; ``b`` = 4 doubles them)."""
    h, layers = arch.hidden, arch.layers
    per_16bit = (2 * tokens * h * layers + 34 * tokens * h) if checkpointing else 34 * tokens * h * layers
    return per_16bit * b / 2


def grpo_memory_bytes(st: Any, arch: TextArch, params: int, *, strategy: str, world: int,
                      recipe_precision: str, gpu_gib: float = GPU_GIB) -> dict[str, float]:
    """Per-device bytes of a GRPO stage ``st`` (a ``GRPOStageConfig``): the terms of the
    module docstring and their ``total`` (the peak)."""
    zero = zero_stage(strategy)
    b = dtype_bytes(st.precision, recipe_precision)
    out = policy_states(params, zero=zero, deepspeed=strategy.startswith("deepspeed"), b=b,
                        world=world)
    w = b if strategy.startswith("deepspeed") else 4  # bytes per stored weight (policy_states)
    out["reference"] = w * params / (world if zero >= 3 else 1) if st.beta > 0 else 0.0
    seq = st.max_prompt_length + st.max_completion_length
    plan = st.batch_plan(world)
    hf = not st.use_vllm
    out["generation_gathered_weights"] = w * params if hf and zero >= 3 else 0.0
    out["generation_kv_cache"] = (plan["per_device_train_batch_size"] * plan["steps_per_generation"]
                                  * seq * arch.kv_bytes_per_token(b)) if hf else 0.0
    share = st.vllm_gpu_memory_utilization * gpu_gib * GIB if st.use_vllm and \
        st.vllm_mode == "colocate" else 0.0
    hf_generation = out["generation_gathered_weights"] + out["generation_kv_cache"]
    out["generation"] = share + hf_generation
    out["activations"] = activation_bytes(st.per_device_batch * seq, arch, st.gradient_checkpointing, b)
    resident = out["weights"] + out["gradients"] + out["optimizer"] + out["reference"] + share
    out["total"] = resident + max(hf_generation, out["activations"])
    return out


def grpo_memory(st: Any, arch: TextArch, params: int, **kwargs: Any) -> dict[str, float]:
    """``grpo_memory_bytes`` in GiB, rounded to 0.01 (what the dry run prints)."""
    return {k: round(v / GIB, 2) for k, v in grpo_memory_bytes(st, arch, params, **kwargs).items()}


def vllm_share_note(st: Any, arch: TextArch, params: int, gpu_gib: float = GPU_GIB) -> str | None:
    """What the colocated vLLM share holds, and whether one full-length sequence fits in it."""
    if not (st.use_vllm and st.vllm_mode == "colocate"):
        return None
    share = st.vllm_gpu_memory_utilization * gpu_gib * GIB
    weights = 2 * params / st.vllm_tensor_parallel_size  # vLLM serves bf16
    seq = st.max_prompt_length + st.max_completion_length
    per_token = arch.kv_bytes_per_token(2) / st.vllm_tensor_parallel_size
    room = share - weights
    head = (f"vLLM share {share / GIB:.1f} GiB = weights {weights / GIB:.1f} GiB (tensor "
            f"parallel {st.vllm_tensor_parallel_size})")
    if room < seq * per_token:
        return (f"PROBLEM: {head} leaves no KV room for one {seq}-token sequence; raise "
                "vllm_gpu_memory_utilization or vllm_tensor_parallel_size")
    return (f"{head} + KV cache {room / GIB:.1f} GiB ({int(room / per_token):,} tokens, "
            f"{int(room / per_token / seq)} full-length sequences at once)")


def fit_note(total_gib: float, gpu_gib: float = GPU_GIB) -> str:
    usable = gpu_gib * USABLE
    verdict = "fits" if total_gib <= usable else "DOES NOT FIT"
    return (f"{verdict} an {gpu_gib:.0f} GiB GPU: {total_gib:.1f} GiB of {usable:.0f} usable "
            f"({USABLE:.0%}: CUDA context, fragmentation, buffers)")


def format_grpo_memory(m: dict[str, float]) -> str:
    gen = (f"generation {m['generation']}" if not m["generation_kv_cache"] else
           f"generation {m['generation']} (gathered weights {m['generation_gathered_weights']} + "
           f"KV cache {m['generation_kv_cache']}, freed before training: peak takes the larger "
           "of it and activations)")
    return (f"  memory per device (estimate): {m['total']} GiB = weights {m['weights']} + grads "
            f"{m['gradients']} + optimizer {m['optimizer']} + reference {m['reference']} + {gen} "
            f"+ activations {m['activations']}")
