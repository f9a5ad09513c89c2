"""``lingshu data``: turn public dataset releases into the layouts lingshu reads.

``lingshu data prepare <dataset>`` builds a report-generation test set from the dataset's
official files, prints what it kept and dropped (and why), and writes the same counts to the
output's ``meta.json``. Rules: docs/report-benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

import typer

from lingshu.data.prepare.common import PrepareSummary

app = typer.Typer(help="Prepare datasets from their official releases.", no_args_is_help=True)
prepare_app = typer.Typer(
    help=(
        "Build a report-generation test set from a dataset's official files. Write it to "
        "DATA_DIR/<benchmark>/ and evaluate with `lingshu eval run --data-dir DATA_DIR`."
    ),
    no_args_is_help=True,
)
app.add_typer(prepare_app, name="prepare")

_KEEP_HELP = (
    "Keep studies whose report has no FINDINGS section, with the impression only "
    "(default: drop them, as report-generation benchmarks usually do)."
)
_LATERAL_HELP = "Add one lateral image after the frontal one when the study has it."
_COPY_HELP = (
    "Copy the chosen images under OUT/images/ (default: record the release's image folder "
    "in meta.json and copy nothing)."
)
_DICOM_HELP = (
    "Use DICOM files when no JPG/PNG exists, converted to PNG under OUT/images/ "
    "(VOI LUT / window applied, MONOCHROME1 inverted)."
)


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
    keep_missing_findings: bool = typer.Option(False, "--keep-missing-findings", help=_KEEP_HELP),
    lateral: bool = typer.Option(True, "--lateral/--no-lateral", help=_LATERAL_HELP),
    copy_images: bool = typer.Option(False, "--copy-images", help=_COPY_HELP),
    convert_dicom: bool = typer.Option(False, "--convert-dicom", help=_DICOM_HELP),
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
            split=split,
            keep_missing_findings=keep_missing_findings,
            lateral=lateral,
            copy_images=copy_images,
            convert_dicom=convert_dicom,
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
    keep_missing_findings: bool = typer.Option(False, "--keep-missing-findings", help=_KEEP_HELP),
    lateral: bool = typer.Option(True, "--lateral/--no-lateral", help=_LATERAL_HELP),
    copy_images: bool = typer.Option(False, "--copy-images", help=_COPY_HELP),
    convert_dicom: bool = typer.Option(False, "--convert-dicom", help=_DICOM_HELP),
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
            split=split,
            keep_missing_findings=keep_missing_findings,
            lateral=lateral,
            copy_images=copy_images,
            convert_dicom=convert_dicom,
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
    keep_missing_findings: bool = typer.Option(False, "--keep-missing-findings", help=_KEEP_HELP),
    lateral: bool = typer.Option(
        True, "--lateral/--no-lateral", help="With --projections: add one lateral image."
    ),
    copy_images: bool = typer.Option(False, "--copy-images", help=_COPY_HELP),
) -> None:
    """IU-Xray from the Open-i release: FINDINGS/IMPRESSION from the report XML, the images
    in the report's order."""
    from lingshu.data.prepare.iu_xray import prepare_iu_xray

    _print(
        prepare_iu_xray(
            reports,
            images,
            out,
            split=split,
            split_file=split_file,
            projections=projections,
            keep_missing_findings=keep_missing_findings,
            lateral=lateral,
            copy_images=copy_images,
        )
    )


@app.command("ops")
def ops_cmd(
    name: str | None = typer.Argument(None, help="Show one op only."),
) -> None:
    """List the curation ops usable in a recipe, with their parameters and defaults."""
    from lingshu.data.curate.ops import describe_ops

    rows = describe_ops()
    if name is not None:
        from lingshu.data.curate.ops import OPS

        OPS.get(name)  # unknown name -> one-line error listing the ops
        rows = [r for r in rows if r["name"] == name]
    for r in rows:
        tags = r["kind"] + (", model" if r["model"] else "")
        typer.echo(f"{r['name']} ({tags}): {r['summary']}")
        for field, default, help_ in r["params"]:
            typer.echo(f"    {field} = {default}" + (f"  # {help_}" if help_ else ""))


@app.command("run")
def run_cmd(
    recipe: Path = typer.Option(..., "--recipe", help="Curation recipe (YAML)."),
    executor: str = typer.Option("local", "--executor", help="local or ray."),
    workers: int = typer.Option(1, "--workers", min=1, help="Parallel shard workers."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Existing Ray cluster (e.g. ray://head:10001 or auto); "
        "default: start a local one."),
) -> None:
    """Run a curation recipe: read, filter, dedup, decontaminate, label, synthesise, write
    training JSONL with exclusions, summary, plots and a data card. Rerun to resume."""
    import logging

    from lingshu.data.curate import load_recipe, run_recipe

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if executor not in ("local", "ray"):
        from lingshu.core.errors import UserError

        raise UserError(f"--executor {executor!r}: expected local or ray")
    r = load_recipe(recipe)
    result = run_recipe(r, executor=executor, workers=workers, ray_address=ray_address)
    typer.echo(f"kept {result.kept}, excluded {result.excluded}")
    for op, n in result.by_op.items():
        typer.echo(f"  {op}: {n}")
    typer.echo(f"output: {result.out_dir / 'data'}; summary: {result.out_dir / 'summary.md'}")
