"""score-reports files: formats, validation (one-line errors), CLI."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from lingshu.cli.reports import score_reports as score_reports_cmd
from lingshu.core.errors import DataError
from lingshu.eval.score_reports import read_reports, score_files

GOLD_CSV = 'study_id,report\n1,"No acute disease."\n2,"Heart size normal. Lungs clear."\n3,"Small effusion."\n'
PRED_JSONL = (
    '{"study_id": 2, "report": "Normal heart. Clear lungs."}\n'
    '{"id": "1", "report": "No acute cardiopulmonary disease."}\n'
    '{"study_id": "3", "report": "   "}\n'
)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_and_jsonl_pair_by_id_in_gold_order(tmp_path):
    gold, pred = _write(tmp_path, "gold.csv", GOLD_CSV), _write(tmp_path, "pred.jsonl", PRED_JSONL)
    res = score_files(pred, gold, ["rouge_l", "bleu"], n_resamples=50)
    assert res.ids == ["1", "2", "3"]
    assert res.scores.per_sample[2]["rouge_l"] == 0.0
    assert len(res.problems) == 1 and "pred.jsonl:3" in res.problems[0] and "'3'" in res.problems[0]
    d = res.to_dict()
    assert d["per_sample"][0]["study_id"] == "1" and "rouge_l" in d["ci"]


@pytest.mark.parametrize(
    ("gold", "pred", "match"),
    [
        (GOLD_CSV, 'study_id,report\n1,"a"\n2,"b"\n', r"no prediction for 1 gold studies .*'3'"),
        (GOLD_CSV, 'study_id,report\n1,"a"\n2,"b"\n3,"c"\n9,"d"\n', r"pred.csv:5: 1 predicted studies are not in"),
        (GOLD_CSV, 'study_id,report\n1,"a"\n1,"b"\n', r"pred.csv:3: duplicate study_id '1' \(first at row 2\)"),
        ('study_id,report\n1,""\n', 'study_id,report\n1,"a"\n', r"gold.csv:2: empty gold report"),
        (GOLD_CSV, 'id,text\n1,"a"\n', r"pred.csv:2: missing field 'report'"),
        (GOLD_CSV, 'report\n"a"\n', r"pred.csv:2: missing 'study_id'"),
    ],
)
def test_bad_files_raise_one_line_errors(tmp_path, gold, pred, match):
    g, p = _write(tmp_path, "gold.csv", gold), _write(tmp_path, "pred.csv", pred)
    with pytest.raises(DataError, match=match) as e:
        score_files(p, g, ["rouge_l"])
    assert "\n" not in str(e.value)


def test_non_utf8_and_bad_json_name_the_line(tmp_path):
    p = tmp_path / "pred.csv"
    p.write_bytes(b'study_id,report\n1,"ok"\n2,"caf\xe9"\n')
    with pytest.raises(DataError, match=r"pred.csv:3: not UTF-8 text \(byte 0xe9\)"):
        read_reports(p, role="pred")
    j = _write(tmp_path, "pred.jsonl", '{"study_id": 1, "report": "a"}\n{oops\n')
    with pytest.raises(DataError, match=r"pred.jsonl:2: not a JSON object"):
        read_reports(j, role="pred")
    with pytest.raises(DataError, match="file not found"):
        read_reports(tmp_path / "none.csv", role="gold")


def test_cli_prints_table_and_writes_json(tmp_path):
    gold, pred = _write(tmp_path, "gold.csv", GOLD_CSV), _write(tmp_path, "pred.jsonl", PRED_JSONL)
    app = typer.Typer()
    app.command()(score_reports_cmd)
    out = tmp_path / "scores.json"
    r = CliRunner().invoke(app, ["--pred", str(pred), "--gold", str(gold), "--metrics", "bleu,rouge_l,semb_score",
                                 "--out", str(out), "--resamples", "50"])
    assert r.exit_code == 0, r.output
    assert "rouge_l" in r.output and "95% CI" in r.output and "semb_score: unavailable" in r.output
    data = json.loads(out.read_text())
    assert data["n"] == 3 and "semb_score" in data["unavailable"] and data["problems"]


def test_cli_rejects_unknown_metric(tmp_path):
    from lingshu.core.errors import UserError

    app = typer.Typer()
    app.command()(score_reports_cmd)
    r = CliRunner().invoke(app, ["--pred", "x", "--gold", "y", "--metrics", "bleu,nope"])
    assert isinstance(r.exception, UserError) and "unknown metric 'nope'" in str(r.exception)
