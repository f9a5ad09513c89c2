"""``lingshu train --dry-run``: what a recipe will do, before any weights or data load.

Parameters are counted on the meta device (no memory, no download) from the model's
config.json; the published configs of Qwen2.5-VL-7B/32B-Instruct and Qwen2-VL-2B-Instruct
ship with the package (``architectures/``), so a cluster run can be planned on a laptop.

Memory estimate per device (an estimate, stated as such):
- model states, after Rajbhandari et al. 2020 (ZeRO, §3): mixed precision with AdamW keeps
  2 bytes/param of bf16 weights, 2 of bf16 gradients and 12 of fp32 master weights, momentum
  and variance per *trainable* param; ZeRO-3 and FSDP divide all three by the number of
  devices, DDP/single keep them whole. Our single/DDP loop keeps fp32 weights (4 B) and
  fp32 gradients (4 B) and 8 B of Adam moments instead.
- activations, after Korthikanti et al. 2022 ("Reducing activation recomputation", eq. 2):
  about ``34 * tokens * hidden`` bytes per decoder layer with flash attention (the
  ``5*a*s/h`` attention-score term vanishes); with gradient checkpointing only each layer's
  input (``2 * tokens * hidden`` bytes) plus one layer's full activations; plus fp32 logits
  and their gradient (``8 * tokens * vocab``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.train.config import PARTS, Recipe, SFTStageConfig, total_steps
from lingshu.train.config.data_paths import DataPathError, entry_files

ARCH_DIR = Path(__file__).resolve().parent / "architectures"


def bundled_architectures() -> dict[str, Path]:
    return {p.stem: p for p in sorted(ARCH_DIR.glob("*.json"))}


def load_config(recipe: Recipe) -> Any:
    """The transformers config of the recipe's model: bundled architecture, or the base
    model's config.json when it is a local folder / alias."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if recipe.architecture:
        arch = bundled_architectures().get(recipe.architecture)
        if arch is None:
            raise UserError(f"architecture {recipe.architecture!r}: bundled ones are "
                            f"{', '.join(bundled_architectures())}")
        data = json.loads(arch.read_text())
    else:
        from lingshu.models.loading import resolve_model_dir

        data = json.loads((resolve_model_dir(recipe.base_model) / "config.json").read_text())
    return CONFIG_MAPPING[data["model_type"]].from_dict(data)


def meta_model(config: Any) -> Any:
    import torch
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        return AutoModelForImageTextToText.from_config(config)


def lora_params(model: Any, regex: str, r: int) -> int:
    import re

    import torch

    pat = re.compile(regex)
    n = 0
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and pat.fullmatch(name):
            n += r * (mod.in_features + mod.out_features)
    return n


@dataclass
class StagePlan:
    name: str
    kind: str
    lrs: dict[str, Any] = field(default_factory=dict)
    trainable: dict[str, int] = field(default_factory=dict)
    samples: int | None = None
    steps: int | None = None
    tokens_per_step: int | None = None
    memory_gib: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    recipe: str
    model_type: str
    params: dict[str, int]
    world_size: int
    strategy: str
    stages: list[StagePlan]


def _count_rows(src: Any, stage: str) -> int | None:
    """Rows the entry gives per epoch: each of its files' rows times ``ratio``, rounded per
    file as training draws them (a folder or pattern: ``config/data_paths``); for data not
    on this machine, its ``samples``."""
    try:
        files = entry_files(src)
    except DataPathError as e:
        if not e.missing:  # a folder without data files is a mistake here too
            raise UserError(f"stage {stage!r}: data: {e}") from None
        return round(src.samples * src.ratio) if src.samples else None
    from lingshu.train.data.sft import mix_split
    from lingshu.train.data.sources import count_rows

    total = 0
    for p in files:  # as training draws them: round(n * ratio) differs where n * frac ends
        n = count_rows(p)  # in .5 (3 rows at 1.5 are 5)
        whole, k = mix_split(n, src.ratio)
        total += n * whole + k
    return total


def memory_estimate(total: int, trainable: int, tokens: int, cfg: Any, strategy: str, world: int,
                    checkpointing: bool) -> dict[str, float]:
    text = getattr(cfg, "text_config", cfg)
    h, layers, vocab = text.hidden_size, text.num_hidden_layers, text.vocab_size
    shard = world if strategy in ("fsdp", "deepspeed-zero3") else 1
    if strategy == "deepspeed-zero3":
        w, g, o = 2 * total, 2 * trainable, 12 * trainable
    else:
        w, g, o = 4 * total, 4 * trainable, 8 * trainable
    act = (2 * tokens * h * layers + 34 * tokens * h) if checkpointing else 34 * tokens * h * layers
    logits = 8 * tokens * vocab
    gib = 2**30
    out = {"weights": w / shard / gib, "gradients": g / shard / gib, "optimizer": o / shard / gib,
           "activations": act / gib, "logits": logits / gib}
    out["total"] = sum(out.values())
    return {k: round(v, 2) for k, v in out.items()}


def plan(recipe: Recipe) -> Plan:
    from lingshu.train.parts import apply_freezing, count_by_part

    cfg = load_config(recipe)
    model = meta_model(cfg)
    params = count_by_part(model)
    par = recipe.parallelism
    world = par.world_size
    stages = []
    for st in recipe.stages:
        sp = StagePlan(name=st.name, kind=st.kind)
        if isinstance(st, SFTStageConfig):
            lrs = {p: st.lr_of(p) for p in PARTS}
            sp.lrs = {p: (v if v is not None else "frozen") for p, v in lrs.items()}
            sp.trainable = apply_freezing(model, lrs)
            if st.lora is not None:
                sp.trainable["llm"] = lora_params(model, st.lora.target_regex, st.lora.r)
            rows = [_count_rows(s, st.name) for s in st.data]
            sp.samples = None if any(r is None for r in rows) else sum(rows)  # type: ignore[arg-type]
            sp.tokens_per_step = st.per_device_batch * st.grad_accum * world * st.max_length
            if sp.samples is not None:
                units = sp.samples
                if st.packing:
                    sp.notes.append("packing: steps assume each pack holds one max_length of samples; "
                                    "fewer steps in practice")
                sp.steps = total_steps(units, st, world)
            elif st.max_steps:
                sp.steps = st.max_steps
            else:
                sp.notes.append("data files not here and no `samples:` given: steps unknown")
            sp.memory_gib = memory_estimate(sum(params.values()), sum(sp.trainable.values()),
                                            st.per_device_batch * st.max_length, cfg, par.strategy, world,
                                            st.gradient_checkpointing)
        else:
            sp = _plan_grpo(st, cfg, params, recipe)
        stages.append(sp)
    return Plan(recipe=recipe.name, model_type=cfg.model_type, params=params, world_size=world,
                strategy=par.strategy, stages=stages)


def _plan_grpo(st: Any, cfg: Any, params: dict[str, int], recipe: Recipe) -> StagePlan:
    """A GRPO stage: every part trained at the stage's rate; memory from
    ``lingshu.train.grpo.memory`` (policy, reference, generation, activations)."""
    from lingshu.train.grpo.memory import TextArch, fit_note, grpo_memory, vllm_share_note
    from lingshu.train.grpo.vllm import idle_vllm_fields, vllm_installed

    sp = StagePlan(name=st.name, kind=st.kind, lrs={p: st.learning_rate for p in PARTS},
                   trainable=dict(params))
    par, arch, total = recipe.parallelism, TextArch.from_config(cfg), sum(params.values())
    try:
        sp.memory_gib = grpo_memory(st, arch, total, strategy=par.strategy, world=par.world_size,
                                    recipe_precision=recipe.precision)
    except UserError as e:  # the batch plan does not split over the devices
        sp.notes.append(f"PROBLEM: {e}")
        return sp
    plan = st.batch_plan(par.world_size)
    sp.notes.append(f"{st.global_batch} prompts x {st.num_generations} completions per optimizer "
                    f"step = {plan['per_device_train_batch_size']} per pass x {par.world_size} "
                    f"device(s) x {plan['gradient_accumulation_steps']} accumulation; gradient "
                    f"checkpointing {'on' if st.gradient_checkpointing else 'off'}")
    share = vllm_share_note(st, arch, total)
    if share:
        sp.notes.append(share)
    if st.use_vllm and st.vllm_mode == "server":
        sp.notes.append(f"vLLM server at {st.vllm_server_host}:{st.vllm_server_port} on GPUs "
                        "outside these devices (start `trl vllm-serve` first)")
    idle = idle_vllm_fields(st)
    if idle:
        sp.notes.append(f"not used with {'vllm_mode ' + st.vllm_mode if st.use_vllm else 'use_vllm false'}: "
                        f"{', '.join(idle)}" + (" (give them to `trl vllm-serve`)"
                                                if st.use_vllm and st.vllm_mode == "server" else ""))
    if st.use_vllm and not vllm_installed():
        sp.notes.append("use_vllm: vllm is not installed on this machine (needed where the stage runs)")
    sp.notes.append(fit_note(sp.memory_gib["total"]))
    return sp


def check_accelerate_config(recipe: Recipe) -> list[str]:
    """Consistency of the recipe with its accelerate (and DeepSpeed) config: problems found."""
    import yaml

    acc = recipe.parallelism.accelerate_config
    if acc is None:
        return []
    if not Path(acc).is_file():
        return [f"accelerate config {acc} not found"]
    data = yaml.safe_load(Path(acc).read_text()) or {}
    probs = []
    want = {"deepspeed-zero3": "DEEPSPEED", "fsdp": "FSDP", "ddp": "MULTI_GPU", "single": "NO"}[recipe.parallelism.strategy]
    if data.get("distributed_type") != want:
        probs.append(f"{acc.name}: distributed_type {data.get('distributed_type')} but strategy "
                     f"{recipe.parallelism.strategy} needs {want}")
    if int(data.get("num_processes", 1)) != recipe.parallelism.world_size:
        probs.append(f"{acc.name}: num_processes {data.get('num_processes')} != gpus_per_node x nodes "
                     f"= {recipe.parallelism.world_size}")
    if int(data.get("num_machines", 1)) != recipe.parallelism.nodes:
        probs.append(f"{acc.name}: num_machines {data.get('num_machines')} != nodes {recipe.parallelism.nodes}")
    # auto resolves on the machine that trains (bf16 on GPUs that have it), so either fits
    mp = {"bf16": ("bf16",), "fp16": ("fp16",), "fp32": ("no",),
          "auto": ("bf16", "no")}[recipe.precision]
    ds = (data.get("deepspeed_config") or {})
    if want == "DEEPSPEED" and ds.get("deepspeed_config_file") and "mixed_precision" in data:
        # accelerate 1.15 raises at start-up: "When using `deepspeed_config_file`, the following
        # accelerate config variables will be ignored: [..., 'mixed_precision']"
        probs.append(f"{acc.name}: remove mixed_precision (with deepspeed_config_file accelerate refuses it; "
                     "the recipe's precision fills the JSON's bf16 \"auto\")")
    if want != "DEEPSPEED" and data.get("mixed_precision", "no") not in mp:
        probs.append(f"{acc.name}: mixed_precision {data.get('mixed_precision')} but recipe precision {recipe.precision}")
    if want == "DEEPSPEED":
        ds_file = ds.get("deepspeed_config_file")
        if ds_file:
            p = (Path(acc).parent / ds_file) if not Path(ds_file).is_absolute() else Path(ds_file)
            probs += check_deepspeed_json(p, recipe)
        elif int(ds.get("zero_stage", 0)) != 3:
            probs.append(f"{acc.name}: zero_stage {ds.get('zero_stage')} but strategy is deepspeed-zero3")
    return probs


def check_deepspeed_json(path: Path, recipe: Recipe) -> list[str]:
    """Problems of the DeepSpeed config each SFT stage will really run with: built by
    :func:`lingshu.train.distributed.deepspeed_config`, the function the run calls before
    ``prepare``, and parsed by DeepSpeed's own config class (batch arithmetic, ZeRO keys)."""
    from lingshu.train.distributed import (check_deepspeed_config, deepspeed_config, hidden_size_of,
                                           load_deepspeed_json)

    try:
        ds = load_deepspeed_json(path)
    except UserError as e:
        return [str(e)]
    probs = []
    zero = ds.get("zero_optimization") or {}
    if recipe.parallelism.strategy == "deepspeed-zero3" and zero.get("stage") != 3:
        probs.append(f"{path.name}: zero_optimization.stage must be 3")
    if zero.get("stage") == 3 and zero.get("stage3_gather_16bit_weights_on_model_save") is not True:
        probs.append(f"{path.name}: zero_optimization.stage3_gather_16bit_weights_on_model_save must be "
                     "true (the stage export gathers the full weights)")
    if recipe.precision == "bf16" and (ds.get("bf16") or {}).get("enabled") not in (True, "auto"):
        probs.append(f"{path.name}: bf16.enabled must be true or auto for precision bf16")
    try:
        hidden = hidden_size_of(load_config(recipe))
    except (UserError, OSError, KeyError, ValueError):
        hidden = None  # a base model not on this machine: the hidden-size keys are then reported
    # auto resolves to bf16 on the GPUs a DeepSpeed run uses (models/precision.py)
    precision = "bf16" if recipe.precision == "auto" else recipe.precision
    for st in recipe.stages:
        if not isinstance(st, SFTStageConfig):
            continue
        kw = dict(per_device_batch=st.per_device_batch, grad_accum=st.grad_accum,
                  max_grad_norm=st.max_grad_norm, world_size=recipe.parallelism.world_size)
        try:
            built = deepspeed_config(ds, precision=precision, hidden_size=hidden, **kw)
        except ValueError as e:
            probs.append(f"{path.name} (stage {st.name}): {e}")
            continue
        probs += [f"{path.name} (stage {st.name}): {p}" for p in check_deepspeed_config(built, **kw)]
    return probs


def format_plan(p: Plan, problems: list[str]) -> str:
    def b(n: int) -> str:
        return f"{n / 1e9:.3f}B" if n >= 1e8 else f"{n / 1e6:.2f}M"

    total = sum(p.params.values())
    lines = [f"recipe {p.recipe}: {p.model_type}, {b(total)} parameters "
             f"(vision {b(p.params['vision'])}, merger {b(p.params['merger'])}, llm {b(p.params['llm'])}; "
             f"{total:,})",
             f"parallelism: {p.strategy} on {p.world_size} device(s)"]
    for s in p.stages:
        tr = sum(s.trainable.values())
        lines.append(f"\nstage {s.name} ({s.kind})")
        lines.append("  trainable: " + ", ".join(f"{k} {b(v)} @ {s.lrs.get(k)}" for k, v in s.trainable.items())
                     + f"; total {b(tr)} ({tr:,})")
        if s.samples is not None:
            lines.append(f"  samples: {s.samples:,}")
        if s.tokens_per_step:
            lines.append(f"  tokens per optimizer step (max): {s.tokens_per_step:,}")
        if s.steps is not None:
            lines.append(f"  optimizer steps: {s.steps:,}")
        if s.memory_gib and s.kind == "grpo":
            from lingshu.train.grpo.memory import format_grpo_memory

            lines.append(format_grpo_memory(s.memory_gib))
        elif s.memory_gib:
            m = s.memory_gib
            lines.append(f"  memory per device (estimate): {m['total']} GiB = weights {m['weights']} + grads "
                         f"{m['gradients']} + optimizer {m['optimizer']} + activations {m['activations']} "
                         f"+ logits {m['logits']}")
        for n in s.notes:
            lines.append(f"  note: {n}")
    for pr in problems:
        lines.append(f"problem: {pr}")
    return "\n".join(lines)


def plan_dict(p: Plan) -> dict:
    from dataclasses import asdict

    return asdict(p)
