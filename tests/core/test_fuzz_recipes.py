"""Issue 22's fuzz pass over recipe and config loading: a shipped recipe (training, curation,
pipeline) or an evaluation config, mutated at random (a key removed, a value replaced by any
scalar or structure, an unknown key added, a bad override, non-UTF-8 bytes), either loads or
gives one ``UserError`` line; never another exception, never a traceback."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lingshu.core.errors import UserError

REPO = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))

scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.sampled_from([-1, 0, -0.5, 5])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["stage9", "5/2", "=test", "blue", "fast", "~/nowhere", "/dev/null", "-1"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    """Every (path to a value) in a nested dict/list."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated(draw, base: dict):
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(values)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return doc


def overrides(base: dict):
    keys = [".".join(str(k) for k in p) for p in _paths(base) if p]
    return st.lists(
        st.builds(lambda k, v: f"{k}={v}", st.sampled_from(keys + ["stages.-1.lr", "nope.x"]),
                  st.text(max_size=8) | st.sampled_from(["-1", "inf", "nan", "[1", "{a: 1}"])),
        max_size=2,
    )


def one_line_or_loaded(load, path: Path, extra: list[str]) -> None:
    try:
        load(path, extra)
    except UserError as e:
        assert str(e).strip() and "\n" not in str(e).strip(), str(e)
        assert "Traceback" not in str(e)


def _write(path: Path, doc) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


# -- the loaders, each as (path, overrides) -> object --------------------------------------


def load_train(path, extra):
    from lingshu.train import load_recipe

    return load_recipe(path, extra, check_files=False)


def load_data(path, extra):
    from lingshu.data.curate import load_recipe

    return load_recipe(path, extra)


def load_pipeline(path, extra):
    from lingshu.pipeline import load_pipeline_recipe

    return load_pipeline_recipe(path, extra)


def load_eval(path, extra):
    from lingshu.cli.eval import build_config

    kw = dict.fromkeys(
        ["benchmarks", "data_dir", "split", "limit", "shard", "backend", "model", "profile",
         "batch_size", "dtype", "device", "min_pixels", "max_pixels", "base_url", "api_key",
         "concurrency", "timeout_s", "max_retries", "backend_opt", "max_new_tokens",
         "temperature", "top_p", "seed", "stop", "chunk_size", "no_cache", "cache_path",
         "fail_fast", "report_metrics", "report_weights", "judge", "judge_base_url",
         "judge_api_key", "judge_scope", "judge_concurrency", "judge_timeout",
         "judge_max_retries", "judge_max_tokens"]
    )
    return build_config(config=path, **kw)


EVAL_BASE = {"benchmarks": ["medqa-usmle"], "data_dir": str(REPO / "data" / "benchmarks"),
             "backend": "dummy", "limit": 2, "split": "test", "shard": {"index": 0, "count": 2},
             "generation": {"max_new_tokens": 8, "temperature": 0.0, "seed": 1},
             "report_metrics": ["bleu"]}

def _shipped(*candidates: str) -> Path:
    """The first of ``candidates`` (repository paths) that exists: areas move their shipped
    recipes as they are consolidated."""
    return next(REPO / c for c in candidates if (REPO / c).is_file())


CASES = {
    "train": (load_train, "src/lingshu/train/recipes/nano.yaml"),
    "data": (load_data, ("src/lingshu/data/curate/recipes/demo.yaml",
                         "src/lingshu/train/recipes/curation/demo.yaml")),
    "pipeline": (load_pipeline, "src/lingshu/pipeline/recipes/nano.yaml"),
    "eval": (load_eval, None),
}


@pytest.mark.parametrize("area", sorted(CASES))
def test_mutated_recipes_load_or_give_one_line(area, tmp_path_factory):
    load, where = CASES[area]
    shipped = None if where is None else _shipped(*([where] if isinstance(where, str) else where))
    base = EVAL_BASE if shipped is None else yaml.safe_load(shipped.read_text())
    folder = tmp_path_factory.mktemp(area) / "recipes"
    if shipped is None:
        folder.mkdir()
    else:  # relative paths inside the recipe resolve as they do shipped
        shutil.copytree(shipped.parent, folder)

    @SETTINGS
    @given(doc=mutated(base), extra=overrides(base))
    def check(doc, extra):
        one_line_or_loaded(load, _write(folder / "recipe.yaml", doc), extra)

    check()


@pytest.mark.parametrize("area", sorted(CASES))
@pytest.mark.parametrize("raw", [b"\xff\xfe\x00bad", b"name: \xe9t\xe9\n", b"- a\n- b\n", b"a: [1\n", b""])
def test_unreadable_recipes_give_one_line(area, raw, tmp_path):
    load, _ = CASES[area]
    path = tmp_path / "recipe.yaml"
    path.write_bytes(raw)
    with pytest.raises(UserError) as info:
        load(path, [])
    assert "\n" not in str(info.value).strip()
    assert str(path) in str(info.value) or not raw  # an empty file may only miss its keys
