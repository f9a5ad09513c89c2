"""``lingshu train``: run a typed recipe, plan it (``--dry-run``), list shipped recipes.

    lingshu train --recipe nano                      # a shipped recipe, by name
    lingshu train --recipe my.yaml stages.0.max_steps=20 seed=1
    lingshu train --recipe lingshu-7b --dry-run      # offline plan for an 8-GPU run
    lingshu train recipes                            # list shipped recipes
    lingshu train recipes --fields                   # every recipe key, documented

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
        None, help="`recipes` to list shipped recipes, or key=value overrides of the recipe."
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
    if recipe is None:
        raise UserError("give --recipe FILE (or a shipped name; see `lingshu train recipes`)")
    bad = [a for a in args if "=" not in a]
    if bad:
        raise UserError(f"argument {bad[0]!r}: expected key=value override (e.g. stages.0.max_steps=10)")
    from lingshu.train.recipe import load_recipe
    from lingshu.train.recipe_files import resolve_recipe_path

    path = resolve_recipe_path(recipe)
    rec = load_recipe(path, args, check_files=not dry_run)
    if dry_run:
        from lingshu.train.dryrun import check_accelerate_config, format_plan, plan, plan_dict

        p = plan(rec)
        problems = check_accelerate_config(rec)
        if as_json:
            typer.echo(json.dumps(dict(plan_dict(p), problems=problems), indent=2))
        else:
            typer.echo(format_plan(p, problems))
        if problems:
            raise typer.Exit(1)
        return
    from lingshu.train.runner import run_recipe, stage_summaries

    run_recipe(rec, path, args, only=stage or None)
    for name, s in stage_summaries(rec.output_dir).items():
        typer.echo(f"{name}: {s.get('steps')} steps, final loss {s.get('final_loss'):.4f}, "
                   f"{s.get('excluded', 0)} samples skipped -> {rec.output_dir / name / 'final'}")


def _list_recipes(fields: bool, as_json: bool) -> None:
    if fields:
        from lingshu.train.recipe import SFTStageConfig, field_docs
        from lingshu.train.stage_kinds import get_stage_kind

        rows = field_docs() + field_docs(SFTStageConfig, "stages[kind=sft].")
        rows += field_docs(get_stage_kind("grpo").config_model, "stages[kind=grpo].")
        for k, d in rows:
            typer.echo(f"{k:48s} {d}")
        return
    from lingshu.train.recipe_files import recipe_summary, shipped_recipes

    items = {n: {"path": str(p), "description": recipe_summary(p)} for n, p in shipped_recipes().items()}
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for n, d in items.items():
        typer.echo(f"{n:14s} {d['description']}")
