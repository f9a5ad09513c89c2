"""``lingshu data prepare ...`` through its typer app: the printed counts, --help, and bad
input surfacing as the one-line ``UserError`` that ``lingshu``'s main prints."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lingshu.cli.data import app
from lingshu.core.errors import DataError, UserError

runner = CliRunner()


def test_help_at_every_level():
    for args in (
        (),
        ("prepare",),
        ("prepare", "mimic-cxr"),
        ("prepare", "chexpert-plus"),
        ("prepare", "iu-xray"),
    ):
        res = runner.invoke(app, [*args, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output, args
    assert "--convert-dicom" in runner.invoke(app, ["prepare", "mimic-cxr", "--help"]).output
    assert "--split-file" in runner.invoke(app, ["prepare", "iu-xray", "--help"]).output


def test_prepare_mimic_cxr_prints_kept_and_dropped(mimic_root, tmp_path):
    out = tmp_path / "data" / "mimic-cxr"
    res = runner.invoke(
        app, ["prepare", "mimic-cxr", "--mimic-root", str(mimic_root), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == f"mimic-cxr (test): kept 3 studies -> {out / 'test.jsonl'}"
    assert lines[1] == "dropped 7 studies:"
    assert sorted(lines[2:9]) == sorted(
        f"  {r}: 1"
        for r in (
            "dicom_needs_convert",
            "image_missing",
            "missing_findings",
            "no_findings_or_impression",
            "no_frontal_view",
            "report_missing",
            "report_not_utf8",
        )
    )
    assert "hint: some studies have only DICOM images; rerun with --convert-dicom" in lines
    assert json.loads((out / "meta.json").read_text())["counts"]["kept"] == 3
    res = runner.invoke(
        app,
        [
            "prepare",
            "mimic-cxr",
            "--mimic-root",
            str(mimic_root),
            "--out",
            str(out),
            "--keep-missing-findings",
            "--convert-dicom",
            "--no-lateral",
        ],
    )
    assert res.exit_code == 0 and "kept 5 studies" in res.output
    assert json.loads((out / "meta.json").read_text())["options"]["lateral"] is False


def test_prepare_chexpert_plus_and_iu_xray(chexpert_root, iu_release, tmp_path):
    res = runner.invoke(
        app,
        ["prepare", "chexpert-plus", "--root", str(chexpert_root), "--out", str(tmp_path / "c")],
    )
    assert res.exit_code == 0 and "chexpert-plus (test): kept 3 studies" in res.output
    reports, png = iu_release
    res = runner.invoke(
        app,
        [
            "prepare",
            "iu-xray",
            "--reports",
            str(reports),
            "--images",
            str(png),
            "--out",
            str(tmp_path / "i"),
            "--split",
            "all",
        ],
    )
    assert res.exit_code == 0 and "iu-xray (all): kept 2 studies" in res.output


def test_bad_input_raises_the_one_line_error_main_prints(tmp_path):
    res = runner.invoke(
        app, ["prepare", "mimic-cxr", "--mimic-root", str(tmp_path), "--out", str(tmp_path / "o")]
    )
    assert isinstance(res.exception, DataError)
    assert "mimic-cxr-2.0.0-split.csv" in str(res.exception) and "\n" not in str(res.exception)
    res = runner.invoke(
        app,
        [
            "prepare",
            "chexpert-plus",
            "--root",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--split",
            "x",
        ],
    )
    assert isinstance(res.exception, UserError) and "--split 'x'" in str(res.exception)
    res = runner.invoke(app, ["prepare", "iu-xray", "--reports", str(tmp_path)])
    assert res.exit_code == 2 and "Missing option" in res.output
