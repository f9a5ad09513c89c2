"""``lingshu train``: run a typed recipe, plan it (``--dry-run``), list what recipes can use.

    lingshu train run --recipe nano                      # a shipped recipe, by name
    lingshu train run --recipe my.yaml stages.0.max_steps=20 seed=1
    lingshu train run --recipe lingshu-7b --dry-run      # offline plan for an 8-GPU run
    lingshu train recipes                                # shipped recipes
    lingshu train recipes --fields                       # every recipe key, documented
    lingshu train stages                                 # stage kinds (sft, grpo)
    lingshu train rewards                                # GRPO rewards and weight presets
    lingshu train prompts                                # GRPO prompt templates
    lingshu train prepare-rl qa.jsonl --out rl.jsonl target_size=95000   # the paper's RL mixture

``lingshu train --recipe ...`` (without ``run``) is the same as ``lingshu train run --recipe
...``. The recipe is validated completely before anything loads; a mistake is one line naming
the file and key. Multi-process: ``accelerate launch --config_file CFG -m lingshu.cli.main
train run --recipe ...`` (docs/training.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from lingshu.cli.groups import as_json, default_group, echo_rows, overrides_from
from lingshu.core.errors import UserError

app = default_group("train", "Train with a multi-stage recipe (Lingshu stages 1-3 SFT, stage 4 "
                             "GRPO); `lingshu train --recipe X` is `lingshu train run --recipe X`.")

_EXAMPLE = "stages.0.max_steps=10"


@app.command("run", context_settings={"allow_interspersed_args": True})
def run(
    overrides: list[str] = typer.Argument(None, help="key=value overrides of the recipe, "
                                          "e.g. stages.0.max_steps=10 or stages.stage1.lr=1e-5."),
    recipe: str = typer.Option(None, "--recipe", "-r",
                               help="Recipe YAML file or shipped recipe name (`lingshu train recipes`)."),
    sets: list[str] = typer.Option(None, "--set", help="Same as a trailing key=value (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (params, steps, memory); load nothing."),
    json_out: bool = typer.Option(False, "--json", help="Dry run: JSON output."),
    stage: list[str] = typer.Option(None, "--stage", help="Run only this stage (repeatable)."),
) -> None:
    """Run (or plan) a training recipe."""
    if recipe is None:
        raise UserError("give --recipe FILE (or a shipped name; see `lingshu train recipes`)")
    items = overrides_from(overrides, sets, example=_EXAMPLE)
    from lingshu.train import load_recipe, resolve_recipe_path

    path = resolve_recipe_path(recipe)
    rec = load_recipe(path, items, check_files=not dry_run)
    from lingshu.train.runner import check_stage_names

    check_stage_names(rec, stage)
    if dry_run:
        _dry_run(rec, json_out)
        return
    from lingshu.train import run_recipe, stage_summaries

    run_recipe(rec, path, items, only=stage or None)
    if os.environ.get("RANK", "0") != "0":  # one summary per run, not per process
        return
    for name, s in stage_summaries(rec.output_dir).items():
        typer.echo(f"{name}: {s.get('steps')} steps, final loss {s.get('final_loss'):.4f}, "
                   f"{s.get('excluded', 0)} samples skipped -> {rec.output_dir / name / 'final'}")


def _dry_run(rec, json_out: bool) -> None:
    from lingshu.train.dryrun import check_accelerate_config, format_plan, plan, plan_dict

    p = plan(rec)
    problems = check_accelerate_config(rec)
    if json_out:
        as_json(dict(plan_dict(p), problems=problems))
    else:
        typer.echo(format_plan(p, problems))
    if problems:
        raise UserError(f"{len(problems)} problem(s) between the recipe and its accelerate config (above)")


@app.command("recipes")
def recipes(
    fields: bool = typer.Option(False, "--fields", help="List every recipe key with its description."),
    json_out: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """List the shipped training recipes (or, with --fields, every recipe key)."""
    if fields:
        from lingshu.train import SFTStageConfig, field_docs, get_stage_kind

        rows = field_docs() + field_docs(SFTStageConfig, "stages[kind=sft].")
        rows += field_docs(get_stage_kind("grpo").config_model, "stages[kind=grpo].")
        echo_rows(rows, (48,))
        return
    from lingshu.train import TRAIN_RECIPES

    items = TRAIN_RECIPES.summaries()
    if json_out:
        as_json(items)
        return
    echo_rows([(n, d["description"]) for n, d in items.items()], (14,))


@app.command("stages")
def stages(json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """List the stage kinds a recipe's `kind:` can name, with their config keys."""
    from lingshu.train import stage_kinds

    items = {k.name: {"description": k.doc, "keys": list(k.config_model.model_fields)}
             for k in stage_kinds()}
    if json_out:
        as_json(items)
        return
    for name, d in items.items():
        typer.echo(f"{name:6s} {d['description']}")
        typer.echo(f"       keys: {', '.join(d['keys'])}")


@app.command("prompts")
def prompts(json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """List the GRPO prompt templates (a stage's `prompt_variant` / `prompt_version`)."""
    from lingshu.train import GRPO_PROMPTS

    items = {k: {"format_reward": GRPO_PROMPTS.get(k).format_reward,
                 "template": GRPO_PROMPTS.get(k).template} for k in GRPO_PROMPTS.names()}
    if json_out:
        as_json(items)
        return
    for key, d in items.items():
        instruction = d["template"].replace("{question}\n", "", 1)
        typer.echo(f"{key:16s} (reward {d['format_reward']}) {instruction}")


@app.command("rewards")
def rewards(json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """List the registered GRPO rewards (name + one line) and the named weight presets."""
    from lingshu.train.rewards import REWARD_PRESETS, list_rewards, rewards_table

    if json_out:
        as_json({"rewards": {r.name: r.doc for r in list_rewards()}, "presets": REWARD_PRESETS})
        return
    typer.echo(rewards_table())
    typer.echo("\npresets (recipe: rewards: NAME):")
    for name, weights in REWARD_PRESETS.items():
        typer.echo(f"  {name:20s} " + ", ".join(f"{k} {v:g}" for k, v in weights.items()))


@app.command("prepare-rl", context_settings={"allow_interspersed_args": True})
def prepare_rl(
    args: list[str] = typer.Argument(None, help="Input JSONL files, then key=value options "
                                     "(target_size=95000 yes_no_share=0.05 seed=0 ...)."),
    out: Path = typer.Option(None, "--out", "-o", help="Output JSONL (`out=FILE` also works)."),
    json_out: bool = typer.Option(False, "--json", help="JSON report."),
) -> None:
    """Build the paper's RL mixture: MCQs rewritten as open questions, yes/no down-sampled."""
    from lingshu.core.config import validate
    from lingshu.train.grpo import RLDataPrepConfig, prepare_rl_data

    args = list(args or [])
    inputs = [Path(a) for a in args if "=" not in a]
    options = dict(a.split("=", 1) for a in args if "=" in a)
    out = out or (Path(options.pop("out")) if "out" in options else None)
    options.pop("out", None)
    if not inputs or out is None:
        raise UserError("prepare-rl: give input JSONL files and --out FILE "
                        "(e.g. lingshu train prepare-rl qa.jsonl --out rl.jsonl target_size=95000)")
    config = validate(RLDataPrepConfig, options, where="prepare-rl",
                      unknown_hint=f"keys: out, {', '.join(RLDataPrepConfig.model_fields)}")
    report = prepare_rl_data(inputs, out, config)
    if json_out:
        as_json(report)
        return
    typer.echo(f"{report['rows_in']} rows in, {report['rows_out']} out "
               f"({report['mcq_rewritten_as_open']} MCQs rewritten as open, yes/no share "
               f"{report['yes_no_share_out']:.1%}) -> {out}; report: "
               f"{out.with_name(out.stem + '.report.md')}")
