"""core.config: YAML loading, overrides and one-line validation errors (hand-worked cases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from lingshu.core.config import (
    StrictModel, apply_overrides, field_rows, load_config, read_yaml,
    validate,
)
from lingshu.core.errors import UserError


class Stage(StrictModel):
    name: str
    max_steps: int = 10


class Cfg(StrictModel):
    lr: float = Field(1e-3, description="learning rate")
    stages: list[Stage] = Field(default_factory=list)
    mode: str


def test_overrides_by_index_name_and_yaml_values():
    data = {"mode": "a", "stages": [{"name": "s1"}, {"name": "s2"}]}
    out = apply_overrides(data, ["stages.1.max_steps=5", "stages.s1.max_steps=7", "lr=0.0002",
                                 "extra.deep.key=[1, 2]"])
    assert out["stages"] == [{"name": "s1", "max_steps": 7}, {"name": "s2", "max_steps": 5}]
    assert out["lr"] == 2e-4 and out["extra"] == {"deep": {"key": [1, 2]}}
    assert data["stages"][0] == {"name": "s1"}  # the input is not modified


def test_override_paths_are_made_absolute_against_the_current_folder(tmp_path, monkeypatch):
    """Hand-worked: only the named path keys change, relative values only, URLs kept."""
    monkeypatch.chdir(tmp_path)
    data = {"out": "o", "stages": [{"name": "s1", "data": [{"path": "d.jsonl"}]}]}
    keys = ("out", "stages.*.data.*.path", "extra.*")
    out = apply_overrides(data, ["out=runs/x", "stages.s1.data.0.path=a.jsonl", "mode=rel/x",
                                 "stages.0.data=[{path: b.jsonl, ratio: 2}, {path: /abs/c}]",
                                 "extra=[s3://b/k, '', 3, ~/f]"], paths=keys)
    assert out["out"] == f"{tmp_path}/runs/x"
    assert out["stages"][0]["data"] == [{"path": f"{tmp_path}/b.jsonl", "ratio": 2},
                                        {"path": "/abs/c"}]
    assert out["mode"] == "rel/x"  # not a path key
    home = str(Path("~/f").expanduser())
    assert out["extra"] == ["s3://b/k", "", 3, home]
    assert data["out"] == "o"  # the recipe's own value: its loader resolves it
    based = apply_overrides(data, ["stages.0.data.0.path=a.jsonl"], paths=keys,
                            path_base=tmp_path / "recipes")
    assert based["stages"][0]["data"][0]["path"] == f"{tmp_path}/recipes/a.jsonl"


@pytest.mark.parametrize("item, fragment", [
    ("stages.-1.max_steps=3", "index -1 is out of range"),
    ("stages.2.max_steps=3", "index 2 is out of range"),
    ("stages.s9.max_steps=3", "no element named 's9'; names: s1, s2"),
    ("mode.x=1", "mode is a value"),
    ("novalue", "expected key=value"),
    ("a..b=1", "empty part"),
])
def test_bad_overrides_are_one_line(item, fragment):
    with pytest.raises(UserError) as e:
        apply_overrides({"mode": "a", "stages": [{"name": "s1"}, {"name": "s2"}]}, [item])
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_validation_errors(tmp_path):
    with pytest.raises(UserError, match=r"^cfg.yaml: lrr: unknown key; check its spelling$"):
        validate(Cfg, {"mode": "a", "lrr": 1}, where="cfg.yaml")
    with pytest.raises(UserError, match=r"^x: mode: required key is missing$"):
        validate(Cfg, {}, where="x")
    with pytest.raises(UserError, match=r"stages\.0\.max_steps: .*integer.* \(and 1 more\)$"):
        validate(Cfg, {"mode": 1, "stages": [{"name": "a", "max_steps": "many"}]}, where="x")


def test_read_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"mode: \xff\xfe\n")
    with pytest.raises(UserError, match="not UTF-8 text"):
        read_yaml(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"broken.yaml: line \d+: not valid YAML"):
        read_yaml(broken)
    with pytest.raises(UserError, match="not found"):
        read_yaml(tmp_path / "missing.yaml")
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="expected a mapping"):
        read_yaml(lst)


def test_load_config_and_field_rows(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("mode: fast\nstages: [{name: a}]\n", encoding="utf-8")
    cfg = load_config(Cfg, f, ["stages.a.max_steps=3"])
    assert cfg.stages[0].max_steps == 3 and cfg.mode == "fast"
    rows = {r[0]: r for r in field_rows(Cfg)}
    assert rows["lr"] == ("lr", "0.001", "learning rate")
    assert rows["stages"][1] == "[]" and rows["mode"][1] == "(required)"
    assert all("Undefined" not in r[1] for r in rows.values())


def test_masked_argv():
    from lingshu.core.manifest import masked_argv

    assert masked_argv(["lingshu", "eval", "--api-key", "sk-1", "--api-key=sk-2", "-b", "x"]) == [
        "lingshu", "eval", "--api-key", "***", "--api-key=***", "-b", "x"]
