"""A broken recipe fails before any work starts; `lingshu data ops` lists every op."""

from __future__ import annotations

import pytest
from curation_helpers import write_recipe
from typer.testing import CliRunner

from lingshu.cli.main import app
from lingshu.core.errors import UserError
from lingshu.data.curate import load_recipe


def _inputs(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    return [{"name": "a", "path": "a.jsonl"}]


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([{"op": "image_dedupe"}], "unknown curation op 'image_dedupe'"),
        ([{"op": "image_min_side", "min_sides": 64}], "op #1 (image_min_side): parameter min_sides"),
        ([{"op": "image_min_side"}, {"op": "token_count", "max_tokens": "many"}],
         "op #2 (token_count): parameter max_tokens"),
        ([{"op": "image_dedup", "scope": "planet"}], "parameter scope"),
    ],
)
def test_bad_ops_fail_at_load(tmp_path, ops, message):
    recipe = write_recipe(tmp_path / "r.yaml", _inputs(tmp_path), ops)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_recipe(recipe)
    assert not (tmp_path / "out").exists()  # nothing was started


def test_unknown_top_level_key_and_mixture_source(tmp_path):
    r = write_recipe(tmp_path / "r.yaml", _inputs(tmp_path), [], colour="red")
    with pytest.raises(UserError, match="colour"):
        load_recipe(r)
    r = write_recipe(tmp_path / "r.yaml", _inputs(tmp_path), [],
                     mixtures={"sft": {"sources": {"b": 1.0}}})
    with pytest.raises(UserError, match=r"unknown sources \['b'\]"):
        load_recipe(r)


def test_cli_one_line_error_and_ops_listing(tmp_path):
    runner = CliRunner()
    r = write_recipe(tmp_path / "r.yaml", _inputs(tmp_path), [{"op": "nope"}])
    res = runner.invoke(app, ["data", "run", "--recipe", str(r)])
    assert res.exit_code != 0
    res = runner.invoke(app, ["data", "ops"])
    assert res.exit_code == 0, res.output
    for name in ("image_decodable", "image_min_side", "image_phash", "image_dedup",
                 "token_count", "language_id", "text_dedup", "decontaminate",
                 "modality_label", "deidentify", "synth_caption", "synth_vqa_template",
                 "synth_vqa_self_instruct", "synth_cot", "synth_ocr"):
        assert f"\n{name} (" in "\n" + res.output, name
    assert "min_side = 64" in res.output
    assert res.output.count("    algorithm = 'imagehash'  # pHash definition") == 2  # phash, dedup
    assert "image_algorithm = 'imagehash'" in res.output
    assert "min_tokens = 10" in res.output and "max_tokens = 1024" in res.output
