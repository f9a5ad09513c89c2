"""``lingshu train``: run a typed recipe, plan it (``--dry-run``), list shipped recipes.

    lingshu train --recipe nano                      # a shipped recipe, by name
    lingshu train --recipe my.yaml stages.0.max_steps=20 seed=1
    lingshu train --recipe lingshu-7b --dry-run      # offline plan for an 8-GPU run
    lingshu train recipes                            # list shipped recipes
    lingshu train recipes --fields                   # every recipe key, documented
    lingshu train rewards                            # GRPO rewards and weight presets
    lingshu train prepare-rl qa.jsonl out=rl.jsonl target_size=95000   # the paper's RL mixture

The recipe is validated completely before anything loads; a mistake is one line naming the
file and key. Multi-process: ``accelerate launch --config_file CFG -m lingshu.cli.main
train --recipe ...`` (docs/training.md).
"""

from __future__ import annotations

import json

import typer

from lingshu.core.errors import UserError


def train(
    args: list[str] = typer.Argument(
        None,
        help="`recipes` to list shipped recipes, `rewards` to list GRPO rewards, `prepare-rl "
        "FILE... out=FILE [key=value]` to build an RL mixture, or key=value overrides of the recipe.",
    ),
    recipe: str = typer.Option(None, "--recipe", "-r", help="Recipe YAML file or shipped recipe name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (params, steps, memory); load nothing."),
    as_json: bool = typer.Option(False, "--json", help="Dry run / recipes: JSON output."),
    stage: list[str] = typer.Option(None, "--stage", help="Run only this stage (repeatable)."),
    fields: bool = typer.Option(False, "--fields", help="With `recipes`: list every recipe key."),
) -> None:
    """Train with a multi-stage recipe (Lingshu stages 1-3 SFT, stage 4 GRPO)."""
    args = list(args or [])
    if args and args[0] == "recipes":
        _list_recipes(fields, as_json)
        return
    if args and args[0] == "rewards":
        _list_rewards(as_json)
        return
    if args and args[0] == "prepare-rl":
        _prepare_rl(args[1:], as_json)
        return
    if recipe is None:
        raise UserError("give --recipe FILE (or a shipped name; see `lingshu train recipes`)")
    bad = [a for a in args if "=" not in a]
    if bad:
        raise UserError(f"argument {bad[0]!r}: expected key=value override (e.g. stages.0.max_steps=10)")
    from lingshu.train import load_recipe, resolve_recipe_path

    path = resolve_recipe_path(recipe)
    rec = load_recipe(path, args, check_files=not dry_run)
    from lingshu.train.runner import check_stage_names

    check_stage_names(rec, stage)
    if dry_run:
        from lingshu.train.dryrun import check_accelerate_config, format_plan, plan, plan_dict

        p = plan(rec)
        problems = check_accelerate_config(rec)
        if as_json:
            typer.echo(json.dumps(dict(plan_dict(p), problems=problems), indent=2))
        else:
            typer.echo(format_plan(p, problems))
        if problems:
            raise UserError(f"{len(problems)} problem(s) between the recipe and its accelerate config (above)")
        return
    from lingshu.train import run_recipe, stage_summaries

    run_recipe(rec, path, args, only=stage or None)
    import os

    if os.environ.get("RANK", "0") != "0":  # one summary per run, not per process
        return
    for name, s in stage_summaries(rec.output_dir).items():
        typer.echo(f"{name}: {s.get('steps')} steps, final loss {s.get('final_loss'):.4f}, "
                   f"{s.get('excluded', 0)} samples skipped -> {rec.output_dir / name / 'final'}")


def _list_rewards(as_json: bool) -> None:
    """Registered GRPO rewards (name + one line) and the named weight presets."""
    from lingshu.train.rewards import REWARD_PRESETS, list_rewards, rewards_table

    if as_json:
        typer.echo(json.dumps({"rewards": {r.name: r.doc for r in list_rewards()},
                               "presets": REWARD_PRESETS}, indent=2))
        return
    typer.echo(rewards_table())
    typer.echo("\npresets (recipe: rewards: NAME):")
    for name, weights in REWARD_PRESETS.items():
        typer.echo(f"  {name:20s} " + ", ".join(f"{k} {v:g}" for k, v in weights.items()))


def _prepare_rl(args: list[str], as_json: bool) -> None:
    """``prepare-rl IN.jsonl... out=OUT.jsonl [target_size=N yes_no_share=0.05 seed=0 ...]``."""
    from pathlib import Path

    from pydantic import ValidationError

    from lingshu.train.grpo import RLDataPrepConfig, prepare_rl_data

    inputs = [Path(a) for a in args if "=" not in a]
    options = dict(a.split("=", 1) for a in args if "=" in a)
    out = options.pop("out", None)
    if not inputs or out is None:
        raise UserError("prepare-rl: give input JSONL files and out=FILE "
                        "(e.g. lingshu train prepare-rl qa.jsonl out=rl.jsonl target_size=95000)")
    try:
        config = RLDataPrepConfig.model_validate(options)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        known = ", ".join(RLDataPrepConfig.model_fields)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise UserError(f"prepare-rl: {key}: {msg} (keys: out, {known})") from None
    report = prepare_rl_data(inputs, Path(out), config)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{report['rows_in']} rows in, {report['rows_out']} out "
               f"({report['mcq_rewritten_as_open']} MCQs rewritten as open, yes/no share "
               f"{report['yes_no_share_out']:.1%}) -> {out}; report: "
               f"{Path(out).with_name(Path(out).stem + '.report.md')}")


def _list_recipes(fields: bool, as_json: bool) -> None:
    if fields:
        from lingshu.train import SFTStageConfig, field_docs, get_stage_kind

        rows = field_docs() + field_docs(SFTStageConfig, "stages[kind=sft].")
        rows += field_docs(get_stage_kind("grpo").config_model, "stages[kind=grpo].")
        for k, d in rows:
            typer.echo(f"{k:48s} {d}")
        return
    from lingshu.train import recipe_summary, shipped_recipes

    items = {n: {"path": str(p), "description": recipe_summary(p)} for n, p in shipped_recipes().items()}
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for n, d in items.items():
        typer.echo(f"{n:14s} {d['description']}")
