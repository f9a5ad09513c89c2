"""``run_grpo_stage``: one GRPO stage on TRL 1.16's ``GRPOTrainer``.

What this adds to TRL: the recipe's values set explicitly (``trl_args``; TRL's defaults
changed, BRIEF §6), the RL rows read and checked (``dataset``), the registered rewards with
their weights plus a zero-weight format-compliance monitor, metrics with stable names and
plots (``metrics``), and a run folder that the next stage, ``lingshu eval`` and plain
transformers load (``save_pretrained`` with the processor).

Outputs in ``output_dir``: ``final/`` (model + processor), ``stage_config.json`` (resolved),
``metrics.jsonl``, ``plots/rewards.png`` and ``plots/training.png``, ``exclusions.jsonl``
(skipped rows and why), ``summary.json``; TRL checkpoints in ``checkpoints/`` when
``save_steps`` is set (a rerun resumes from the last one).
"""

from __future__ import annotations

import sys

import logging
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.core.io import JsonlAppender, atomic_write_json, read_jsonl
from lingshu.train.grpo.config import GRPOStageConfig
from lingshu.train.grpo.metrics import (
    COMPLIANCE_REWARD,
    keep_metrics_until,
    make_callback,
    plot_metrics,
)
from lingshu.train.grpo.prompts import get_prompt
from lingshu.train.rewards import get_reward
from lingshu.train.stages.base import StageResult, read_summary

log = logging.getLogger(__name__)


def reward_functions(config: GRPOStageConfig) -> tuple[list[Any], list[float]]:
    """The recipe's rewards and weights, plus the zero-weight compliance monitor."""
    weights = config.reward_weights()
    funcs = [get_reward(name) for name in weights]
    check = get_reward(get_prompt(config.prompt_variant, config.prompt_version).format_reward)

    def format_compliance(completions: list[Any], **_: Any) -> list[float]:
        return check(completions)

    format_compliance.__name__ = COMPLIANCE_REWARD
    return [*funcs, format_compliance], [*weights.values(), 0.0]


def trl_args(
    config: GRPOStageConfig,
    *,
    output_dir: Path,
    seed: int,
    num_processes: int = 1,
    use_cpu: bool = False,
    report_to: list[str] | None = None,
    bf16: bool | None = None,
) -> Any:
    """A ``trl.GRPOConfig`` with every recipe value set explicitly."""
    from trl import GRPOConfig

    from lingshu.train.grpo.vllm import vllm_trl_args

    plan = config.batch_plan(num_processes)
    if bf16 is None:
        bf16 = config.precision == "bf16" or (config.precision == "auto" and not use_cpu)
    return GRPOConfig(
        output_dir=str(output_dir / "checkpoints"),
        # algorithm
        num_generations=config.num_generations,
        beta=config.beta,
        use_bias_correction_kl=config.kl_estimator == "k3_unbiased",
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        epsilon=config.epsilon,
        num_iterations=config.num_iterations,
        mask_truncated_completions=config.mask_truncated_completions,
        multi_objective_aggregation="sum_then_normalize",
        importance_sampling_level="token",
        # sampling
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=0,
        repetition_penalty=1.0,
        max_completion_length=config.max_completion_length,
        **vllm_trl_args(config),
        # optimisation
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        optim="adamw_torch",
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        bf16=bf16,
        # TRL 1.16 turns checkpointing on by default (trl/trainer/base_config.py): say it;
        # the Trainer enables it on the model (every decoder layer, vision blocks too)
        activation_checkpointing=config.gradient_checkpointing,
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        **plan,
        # logging and saving
        logging_steps=1,
        save_strategy="steps" if config.save_steps else "no",
        save_steps=config.save_steps or 500,
        report_to=report_to or [],
        remove_unused_columns=False,
        # a bar on a terminal; in a log file carriage-return frames would pile up (make_callback
        # prints one plain line per step there instead)
        disable_tqdm=not sys.stderr.isatty(),
        log_completions=False,
    )


def run_grpo_stage(
    config: GRPOStageConfig,
    *,
    model_path: str | Path,
    output_dir: str | Path,
    seed: int,
    base_dir: str | Path | None = None,
    device: str = "auto",
    precision: str | None = None,
    metrics: Any = None,
    global_step_offset: int = 0,
    stop_after: int | None = None,
    report_to: list[str] | None = None,
    resume: bool = True,
    **common: Any,
) -> StageResult:
    """Train ``model_path`` with GRPO as ``config`` says; the result names ``output_dir/final``.

    ``model_path`` must be a folder on disk (a previous stage's output or a published
    checkpoint): with ``beta > 0`` TRL reloads the reference model from it, so a model held
    only in memory would be silently replaced by whatever that path holds.

    Keyword arguments the recipe runner passes: ``precision`` (the recipe's, used when the
    stage says ``auto``), ``metrics`` (the run's metrics log: every step record is written
    there too, tagged with the stage name and ``global_step_offset + step``), ``stop_after``
    (end after that many optimizer steps without exporting: tests of resumption).
    ``base_dir`` resolves relative data paths. A finished stage (``summary.json`` and
    ``final/``) is not trained again; an interrupted one resumes from its last checkpoint.
    """
    import torch

    out = Path(output_dir)
    final = out / "final"
    if (out / "summary.json").is_file() and (final / "config.json").is_file():
        return StageResult(config.name, "grpo", final, out, read_summary(out))
    out.mkdir(parents=True, exist_ok=True)
    seed = config.seed if config.seed is not None else seed
    model_dir = Path(model_path)
    if not (model_dir / "config.json").is_file():
        raise UserError(
            f"{model_dir}: not a saved model folder (no config.json); GRPO reloads its reference "
            "model from this path, so save the model first (save_pretrained)"
        )
    use_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    from lingshu.train.grpo.vllm import check_vllm_runtime

    check_vllm_runtime(config, use_cpu=use_cpu, num_processes=_num_processes())
    dtype = _dtype(config.precision, precision, use_cpu)
    model, processor = _load_policy(config, model_dir, policy_dtype(dtype, use_cpu))
    data = _load_rows(config, out, seed, base_dir, processor)
    args = trl_args(config, output_dir=out, seed=seed, use_cpu=use_cpu, report_to=report_to,
                    num_processes=_num_processes(), bf16=dtype == "bfloat16")
    trainer, start, resume_from = _trainer(config, model, processor, data, args, out, metrics,
                                           global_step_offset, stop_after, resume)
    result = trainer.train(resume_from_checkpoint=resume_from)
    if stop_after is not None and trainer.state.global_step - start >= stop_after and (
        trainer.state.global_step < trainer.state.max_steps
    ):  # interrupted on purpose: no export, the next call resumes
        return StageResult(config.name, "grpo", final, out, {"steps": trainer.state.global_step},
                           complete=False)
    _export(trainer, processor, out)
    plots = plot_metrics(out / "metrics.jsonl", out / "plots")
    last = (list(read_jsonl(out / "metrics.jsonl")) or [{}])[-1]
    summary = {
        "stage": config.name,
        "kind": "grpo",
        "model_path": str(model_dir),
        "seed": seed,
        "steps": trainer.state.global_step,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "rows_kept": data.kept,
        "rows_skipped": len(data.excluded),
        "rows_skipped_by_reason": data.excluded_by_reason,
        "excluded": len(data.excluded),  # the key SFT stages use for the same count
        "final_loss": float(last.get("loss", 0.0)),
        "final_reward": last.get("reward/mean"),
        "final_format_compliance": last.get("format_compliance"),
        "reward_weights": config.reward_weights(),
        "prompt": get_prompt(config.prompt_variant, config.prompt_version).key,
        "dtype": dtype,
        # read from the model the trainer ran, not from the config: what really happened
        "gradient_checkpointing": bool(getattr(trainer.model, "is_activation_checkpointing", False)),
        "generation": f"vllm-{config.vllm_mode}" if config.use_vllm else "transformers",
        "resumed_from": resume_from,
        "plots": [str(p.relative_to(out)) for p in plots],
        "ignored_options": sorted(common),
    }
    if config.eval is not None and trainer.is_world_process_zero():
        from lingshu.train.evaluate import evaluate_stage

        summary["eval"] = evaluate_stage(final, config.name, config.eval, out, metrics,
                                         global_step_offset + trainer.state.global_step)
    if trainer.is_world_process_zero():
        atomic_write_json(out / "summary.json", summary)
    trainer.accelerator.wait_for_everyone()
    return StageResult(config.name, "grpo", final, out, summary)


def policy_dtype(dtype: str, use_cpu: bool) -> str:
    """The dtype the policy's weights are loaded and kept in: fp32, with bf16 autocast (TRL's
    ``bf16=True``), as in the SFT stages, except under DeepSpeed on a GPU, which casts the
    module to the training dtype itself and keeps fp32 master weights in its optimizer.

    Weights stored in bf16 are trained in bf16 (plain PyTorch, DDP, FSDP): an Adam step smaller
    than half a bf16 spacing of a weight (~6e-5 for a weight of 0.02) is rounded away, every
    step. The demo's 6 GRPO steps at lr 1e-5 left 98.3% of the weights' bf16 values unchanged
    and its accuracy and compliance where they were (docs/pipeline.md, "Issue 23"). TRL loads
    the reference model in the policy's dtype, so the two agree at step 0 (KL 0).
    """
    from lingshu.train.sft_runtime import deepspeed_launched

    return dtype if deepspeed_launched() and not use_cpu else "float32"


def _load_policy(config: GRPOStageConfig, model_dir: Path, dtype: str) -> tuple[Any, Any]:
    """The model to train and its processor, on the CPU: the trainer (accelerate /
    DeepSpeed / FSDP) places the weights."""
    from lingshu.models import LoadOptions, load_model

    vision = _is_vision(model_dir)
    loaded = load_model(
        str(model_dir),
        LoadOptions(
            device="cpu",
            dtype=dtype,
            min_pixels=config.min_pixels if vision else None,
            max_pixels=config.max_pixels if vision else None,
        ),
    )
    loaded.model.train()
    return loaded.model, loaded.processor


def _load_rows(config: GRPOStageConfig, out: Path, seed: int, base_dir: str | Path | None,
               processor: Any) -> Any:
    """The RL rows as a dataset; the resolved config and the skipped rows are written."""
    from lingshu.train.grpo.dataset import build_grpo_dataset

    data = build_grpo_dataset(
        config, seed=seed, base_dir=Path(base_dir) if base_dir else None, processor=processor
    )
    atomic_write_json(out / "stage_config.json", config.model_dump(mode="json"))
    exclusions = out / "exclusions.jsonl"
    exclusions.unlink(missing_ok=True)
    if data.excluded:
        with JsonlAppender(exclusions) as fh:
            fh.write_many(data.excluded)
        log.warning("%d RL rows skipped: %s (see %s)", len(data.excluded),
                    data.excluded_by_reason, exclusions)
    return data


def _trainer(config: GRPOStageConfig, model: Any, processor: Any, data: Any, args: Any, out: Path,
             metrics: Any, offset: int, stop_after: int | None, resume: bool) -> tuple[Any, int, str | None]:
    """TRL's trainer with our rewards and metrics callback; (trainer, start step, checkpoint
    resumed from). Records past the checkpoint are dropped: those steps train again."""
    from trl import GRPOTrainer

    funcs, weights = reward_functions(config)
    args.reward_weights = weights
    metrics_path = out / "metrics.jsonl"
    checkpoints = sorted((out / "checkpoints").glob("checkpoint-*"),
                         key=lambda p: int(p.name.split("-")[-1]))
    resume_from = str(checkpoints[-1]) if resume and checkpoints else None
    start = int(resume_from.rsplit("-", 1)[-1]) if resume_from else 0
    if resume_from is None:
        metrics_path.unlink(missing_ok=True)
    else:
        keep_metrics_until(metrics_path, start)
    if metrics is not None and hasattr(metrics, "truncate_after"):
        metrics.truncate_after(config.name, start)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=data.dataset,
        processing_class=processor,
        callbacks=[make_callback(metrics_path, stage=config.name, run_metrics=metrics,
                                 step_offset=offset, start=start, stop_after=stop_after)],
    )
    if args.disable_tqdm:  # no terminal: our callback prints one plain line a step instead of
        from transformers import PrinterCallback  # the Trainer's dump of every log dict

        trainer.remove_callback(PrinterCallback)
    return trainer, start, resume_from


def _export(trainer: Any, processor: Any, out: Path) -> None:
    """``final/``: model + processor, written to a temporary folder then renamed, so a kill
    never leaves a half-written ``final`` that the next stage would load."""
    import shutil

    from lingshu.core.io import honour_umask

    main = trainer.is_world_process_zero()
    tmp, final = out / ".final-tmp", out / "final"
    if main and tmp.exists():
        shutil.rmtree(tmp)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))  # every rank: collective under ZeRO-3 / FSDP; main writes
    if main:
        processor.save_pretrained(str(tmp))
        honour_umask(tmp)  # safetensors writes 0600; weights follow the umask (issue 22)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    trainer.accelerator.wait_for_everyone()


def _dtype(stage: str, recipe: str | None, use_cpu: bool) -> str:
    """Stage precision wins; ``auto`` takes the recipe's, else bf16 where the GPU or CPU
    computes in it and fp32 elsewhere (``lingshu.models.precision``)."""
    from lingshu.models.precision import resolve_precision

    choice = resolve_precision(stage if stage != "auto" else (recipe or "auto"),
                               "cpu" if use_cpu else "cuda")
    return {"bf16": "bfloat16", "fp32": "float32", "fp16": "float16"}.get(choice, "float32")


def _is_vision(model_dir: Path) -> bool:
    from lingshu.models import detect_kind

    return detect_kind(model_dir) != "causal_lm"


def _num_processes() -> int:
    import os

    return int(os.environ.get("WORLD_SIZE", "1"))
