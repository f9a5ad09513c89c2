"""Recipe validation: every mistake is one clear line; shipped recipes validate; overrides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lingshu.core.errors import UserError
from lingshu.core.config import apply_overrides
from lingshu.train import SFTStageConfig, load_recipe
from lingshu.train import shipped_recipes

from _train_helpers import tiny_recipe, write_jsonl, qwen_row


@pytest.fixture()
def recipe_file(tmp_path) -> Path:
    data = write_jsonl(tmp_path / "d.jsonl", [qwen_row(0, None, "q", "a")])
    return tiny_recipe(tmp_path, tmp_path / "model", data)


def _edit(path: Path, fn) -> Path:
    d = yaml.safe_load(path.read_text())
    fn(d)
    path.write_text(yaml.safe_dump(d))
    return path


def _error(path: Path, overrides=None) -> str:
    with pytest.raises(UserError) as e:
        load_recipe(path, overrides)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_valid_recipe_loads(recipe_file):
    r = load_recipe(recipe_file)
    st = r.stages[0]
    assert isinstance(st, SFTStageConfig)
    assert st.lr_of("vision") == 1e-3 and st.lr_of("llm") is None


def test_unknown_key(recipe_file):
    _edit(recipe_file, lambda d: d["stages"][0].update(lernig_rate=1))
    msg = _error(recipe_file)
    assert "stages.0.lernig_rate" in msg and "unknown key" in msg


def test_unknown_top_level_key(recipe_file):
    _edit(recipe_file, lambda d: d.update(epochz=1))
    assert "epochz: unknown key" in _error(recipe_file)


def test_wrong_type(recipe_file):
    msg = _error(recipe_file, ["stages.0.per_device_batch=many"])
    assert "stages.0.per_device_batch" in msg and "integer" in msg


def test_missing_file(recipe_file, tmp_path):
    msg = _error(recipe_file, [f"stages.0.data.0.path={tmp_path}/nope.jsonl"])
    assert "stages.0.data.0.path" in msg and "does not exist" in msg


@pytest.mark.parametrize("override,needle", [
    ("stages.0.parts.vision=5.0", "not in (0, 1)"),
    ("stages.0.max_steps=null", "set epochs or max_steps"),
    ("stages.0.parts.merger=frozen", None),
    ("stages.0.min_pixels=99999", "exceeds max_pixels"),
    ("stages.0.kind=rlhf", "unknown stage kind 'rlhf'"),
])
def test_nonsense_values(recipe_file, override, needle):
    if needle is None:  # freezing one more part is fine
        load_recipe(recipe_file, [override])
        return
    assert needle in _error(recipe_file, [override])


def test_all_frozen_rejected(recipe_file):
    msg = _error(recipe_file, ["stages.0.parts.vision=frozen", "stages.0.parts.merger=frozen"])
    assert "nothing would train" in msg


def test_overrides_by_index_and_name():
    d = {"seed": 0, "stages": [{"name": "a", "x": 1}, {"name": "b", "x": 2}]}
    out = apply_overrides(d, ["seed=3", "stages.b.x=5", "stages.0.parts.llm=frozen"])
    assert out["seed"] == 3 and out["stages"][1]["x"] == 5
    assert out["stages"][0]["parts"] == {"llm": "frozen"}
    assert d["seed"] == 0  # input untouched
    with pytest.raises(UserError, match="no element named 'c'"):
        apply_overrides(d, ["stages.c.x=1"])


def test_shipped_recipes_validate_and_have_run_command():
    names = set(shipped_recipes())
    assert {"nano", "lingshu-7b", "lingshu-32b", "med-r1", "med-r1-nothink"} <= names
    for name, path in shipped_recipes().items():
        head = path.read_text().splitlines()[:12]
        assert any("lingshu train --recipe" in line for line in head), name
        r = load_recipe(path, check_files=(name == "nano"))
        assert r.stages


def test_lingshu_7b_recipe_has_paper_values():
    r = load_recipe("lingshu-7b", check_files=False)
    s1, s2, s3, s4 = r.stages
    assert s1.parts == {"vision": 2e-6, "merger": 1e-5, "llm": "frozen"} and not s1.packing
    assert s2.parts == s3.parts == {"vision": 2e-6, "merger": 1e-5, "llm": 1e-5}
    assert (s1.epochs, s2.epochs, s3.epochs) == (1, 1, 2) and s3.packing
    for s in (s1, s2, s3):
        assert (s.max_length, s.per_device_batch, s.grad_accum, s.warmup_steps, s.scheduler) == (
            8192, 1, 8, 100, "cosine")
    assert s4.learning_rate == 1e-6 and s4.num_generations == 16 and s4.beta == 1e-3
    assert s4.global_batch == 128 and s4.rollout_batch == 512 and s4.temperature == 1.0
    assert s4.max_prompt_length + s4.max_completion_length == 4096


def test_cli_error_is_one_line(recipe_file):
    r = subprocess.run([sys.executable, "-m", "lingshu.cli.main", "train", "--recipe", str(recipe_file),
                        "stages.0.grad_accum=0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "stages.0.grad_accum" in r.stderr
    assert "Traceback" not in r.stderr
