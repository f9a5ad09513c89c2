"""``lingshu data``: curate training data and prepare report benchmarks' releases.

``lingshu data run --recipe NAME|FILE [key=value ...]`` runs a curation recipe (shipped
names: ``lingshu data recipes``); ``lingshu data ops | readers | executors | recipes`` list
what a recipe can use, each generated from its registry. ``lingshu data prepare
<dataset>`` builds a report-generation test set from the dataset's official files, prints
what it kept and dropped (and why), and writes the same counts to the output's
``meta.json``. Rules: docs/report-benchmarks.md; curation: docs/curation.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from lingshu.data.curate.executors import EXECUTORS
from lingshu.data.prepare.common import PrepareOptions, PrepareSummary

app = typer.Typer(help="Curate training data; prepare datasets from their official releases.",
                  no_args_is_help=True)
prepare_app = typer.Typer(
    help=(
        "Build a report-generation test set from a dataset's official files. Write it to "
        "DATA_DIR/<benchmark>/ and evaluate with `lingshu eval run --data-dir DATA_DIR`."
    ),
    no_args_is_help=True,
)
app.add_typer(prepare_app, name="prepare")


def _opt(field: str, *decls: str, help: str | None = None) -> Any:  # noqa: A002
    """A ``--flag`` whose default and help come from ``PrepareOptions``."""
    info = PrepareOptions.model_fields[field]
    return typer.Option(info.default, *decls, help=help or info.description)


_KEEP = _opt("keep_missing_findings", "--keep-missing-findings")
_LATERAL = _opt("lateral", "--lateral/--no-lateral")
_COPY = _opt("copy_images", "--copy-images")
_DICOM = _opt("convert_dicom", "--convert-dicom")


def _print(summary: PrepareSummary) -> None:
    for line in summary.lines():
        typer.echo(line)
    if summary.dropped.get("dicom_needs_convert"):
        typer.echo("hint: some studies have only DICOM images; rerun with --convert-dicom")
    typer.echo(f"counts and rules written to {summary.out_dir / 'meta.json'}")


@prepare_app.command("mimic-cxr")
def mimic_cxr(
    mimic_root: Path = typer.Option(
        ...,
        "--mimic-root",
        help="Folder with mimic-cxr-2.0.0-split.csv(.gz), "
        "mimic-cxr-2.0.0-metadata.csv(.gz) and files/ (MIMIC-CXR-JPG layout).",
    ),
    out: Path = typer.Option(..., "--out", help="Output folder, e.g. DATA_DIR/mimic-cxr."),
    reports: Path | None = typer.Option(
        None,
        "--reports",
        help="mimic-cxr-reports.zip or the folder holding files/p10/...txt "
        "(default: MIMIC_ROOT/mimic-cxr-reports.zip if present, else MIMIC_ROOT).",
    ),
    images: Path | None = typer.Option(
        None,
        "--images",
        help="Folder holding files/p10/.../<dicom_id>.jpg or .dcm (default: MIMIC_ROOT).",
    ),
    split: str = typer.Option("test", "--split", help="test, validate or train."),
    keep_missing_findings: bool = _KEEP,
    lateral: bool = _LATERAL,
    copy_images: bool = _COPY,
    convert_dicom: bool = _DICOM,
) -> None:
    """MIMIC-CXR from the PhysioNet files: official split, FINDINGS/IMPRESSION parsed from
    the reports, one frontal (PA over AP) + one lateral image per study."""
    from lingshu.data.prepare.mimic_cxr import prepare_mimic_cxr

    _print(
        prepare_mimic_cxr(
            mimic_root,
            out,
            reports=reports,
            images=images,
            options=PrepareOptions(split=split, keep_missing_findings=keep_missing_findings,
                                   lateral=lateral, copy_images=copy_images,
                                   convert_dicom=convert_dicom),
        )
    )


@prepare_app.command("chexpert-plus")
def chexpert_plus(
    root: Path = typer.Option(
        ..., "--root", help="Folder with df_chexpert_plus_240401.csv and the extracted PNG.zip."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder, e.g. DATA_DIR/chexpert-plus."),
    csv_file: Path | None = typer.Option(
        None, "--csv", help="The CheXpert Plus table (default: ROOT/df_chexpert_plus_*.csv)."
    ),
    images: Path | None = typer.Option(
        None,
        "--images",
        help="Folder the table's path_to_image is relative to (default: "
        "ROOT; PNG/ and PNG/PNG/ below it are searched too).",
    ),
    split: str = typer.Option(
        "test", "--split", help="test (= the release's valid split, the paper's test set) or train."
    ),
    keep_missing_findings: bool = _KEEP,
    lateral: bool = _LATERAL,
    copy_images: bool = _COPY,
    convert_dicom: bool = _DICOM,
) -> None:
    """CheXpert Plus from the Stanford AIMI release: the valid split as test set, the
    release's section columns, one frontal (PA over AP) + one lateral image per study."""
    from lingshu.data.prepare.chexpert_plus import prepare_chexpert_plus

    _print(
        prepare_chexpert_plus(
            root,
            out,
            csv_file=csv_file,
            images=images,
            options=PrepareOptions(split=split, keep_missing_findings=keep_missing_findings,
                                   lateral=lateral, copy_images=copy_images,
                                   convert_dicom=convert_dicom),
        )
    )


@prepare_app.command("iu-xray")
def iu_xray(
    reports: Path = typer.Option(
        ..., "--reports", help="NLMCXR_reports.tgz from Open-i, or its extracted folder of XML."
    ),
    images: Path = typer.Option(
        ..., "--images", help="Folder of the extracted NLMCXR_png.tgz (CXR1_1_IM-0001-3001.png)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder, e.g. DATA_DIR/iu-xray."),
    split: str = typer.Option(
        "test",
        "--split",
        help="test, val, train or all (with --split-file: which part of an "
        "R2Gen annotation.json; the file name written is always <split>.jsonl).",
    ),
    split_file: Path | None = typer.Option(
        None,
        "--split-file",
        help="Ids defining the split: ReXRank_IUXray_valid.json gives "
        "MedEvalKit's 296 studies; an R2Gen annotation.json or a text file of ids works too. "
        "Default: a documented hash split (7:1:2), not comparable with published numbers.",
    ),
    projections: Path | None = typer.Option(
        None,
        "--projections",
        help="indiana_projections.csv (uid,filename,projection): order "
        "images frontal first, then one lateral.",
    ),
    keep_missing_findings: bool = _KEEP,
    lateral: bool = _opt("lateral", "--lateral/--no-lateral",
                         help="With --projections: add one lateral image."),
    copy_images: bool = _COPY,
) -> None:
    """IU-Xray from the Open-i release: FINDINGS/IMPRESSION from the report XML, the images
    in the report's order."""
    from lingshu.data.prepare.iu_xray import prepare_iu_xray

    _print(
        prepare_iu_xray(
            reports,
            images,
            out,
            split_file=split_file,
            projections=projections,
            options=PrepareOptions(split=split, keep_missing_findings=keep_missing_findings,
                                   lateral=lateral, copy_images=copy_images),
        )
    )


def _rows(title: str, params: list[tuple[str, str, str]]) -> None:
    typer.echo(title)
    for field, default, help_ in params:
        typer.echo(f"    {field} = {default}" + (f"  # {help_}" if help_ else ""))


@app.command("ops")
def ops_cmd(
    name: str | None = typer.Argument(None, help="Show one op only."),
) -> None:
    """List the curation ops usable in a recipe, with their parameters and defaults."""
    from lingshu.data.curate.ops import OPS, describe_ops

    rows = describe_ops()
    if name is not None:
        OPS.get(name)  # unknown name -> one-line error listing the ops
        rows = [r for r in rows if r["name"] == name]
    for r in rows:
        tags = r["kind"] + (", model" if r["model"] else "")
        _rows(f"{r['name']} ({tags}): {r['summary']}", r["params"])


@app.command("readers")
def readers_cmd() -> None:
    """List the input formats (``inputs[].format``) a recipe can read."""
    from lingshu.data.curate.readers import READERS, reader_summary

    typer.echo("auto: guessed from the path (folder contents or file suffix)")
    for name in READERS.names():
        typer.echo(f"{name}: {reader_summary(name)}")


@app.command("executors")
def executors_cmd() -> None:
    """List the executors (``--executor``) and their options."""
    from lingshu.data.curate.executors import describe_executors

    for r in describe_executors():
        _rows(f"{r['name']}: {r['summary']}", r["params"])


@app.command("recipes")
def recipes_cmd(json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """List the curation recipes shipped with lingshu (usable by name with ``--recipe``)."""
    from lingshu.cli.groups import as_json, echo_rows
    from lingshu.data.curate.recipe import CURATION_RECIPES

    items = CURATION_RECIPES.summaries()  # the listing `lingshu train recipes` and `pipeline recipes` give
    if json_out:
        as_json(items)
        return
    echo_rows([(n, d["description"]) for n, d in items.items()], (20,))


@app.command("run")
def run_cmd(
    recipe: str = typer.Option(..., "--recipe", help="Curation recipe: a YAML file or a "
                               "shipped recipe's name (`lingshu data recipes`)."),
    overrides: list[str] = typer.Argument(
        None, help="key=value changes to the recipe, e.g. output.dir=/tmp/x ops.3.threshold=4"),
    set_: list[str] = typer.Option(None, "--set", help="key=value (same as a positional "
                                   "override; repeatable)."),
    executor: str = typer.Option(
        "local", "--executor", help=f"one of: {', '.join(EXECUTORS.names())} "
        "(`lingshu data executors`)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Parallel shard workers."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="ray: existing cluster (e.g. ray://head:10001 or auto); "
        "default: start a local one."),
    gpus_per_actor: float | None = typer.Option(
        None, "--gpus-per-actor", help="ray: GPUs each model-op actor asks for."),
) -> None:
    """Run a curation recipe: read, filter, dedup, decontaminate, label, synthesise, write
    training JSONL with exclusions, summary, plots and a data card. Rerun to resume."""
    import logging

    from lingshu.core.errors import UserError
    from lingshu.data.curate import load_recipe, run_recipe

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    cls = EXECUTORS.get(executor)  # unknown name -> one-line error listing the executors
    options = {"workers": workers, "address": ray_address, "gpus_per_actor": gpus_per_actor}
    stray = [k for k, v in options.items() if v is not None and k not in cls.Options.model_fields]
    if stray:
        flag = "--" + stray[0].replace("address", "ray-address").replace("_", "-")
        raise UserError(f"{flag} applies to another executor, not {executor!r}; "
                        "see `lingshu data executors`")
    r = load_recipe(recipe, [*(overrides or []), *(set_ or [])])
    result = run_recipe(r, executor=executor,
                        **{k: v for k, v in options.items() if k in cls.Options.model_fields})
    typer.echo(f"kept {result.kept}, excluded {result.excluded}")
    for op, n in result.by_op.items():
        typer.echo(f"  {op}: {n}")
    typer.echo(f"output: {result.out_dir}/data; summary: {result.out_dir}/summary.md")  # a URL too
