import json

from lingshu.core.io import JsonlAppender, atomic_write_json, read_jsonl
from lingshu.core.registry import Registry
from lingshu.core.errors import UserError

import pytest


def test_torn_tail_is_ignored_then_replaced(tmp_path):
    p = tmp_path / "s.jsonl"
    with JsonlAppender(p) as out:
        out.write_many([{"a": 1}, {"a": 2}])
    with p.open("ab") as fh:  # what a kill -9 mid-write leaves
        fh.write(b'{"a": 3, "b"')
    assert [r["a"] for r in read_jsonl(p)] == [1, 2]
    with JsonlAppender(p) as out:
        out.write({"a": 4})
    assert p.read_bytes() == b'{"a": 1}\n{"a": 2}\n{"a": 4}\n'


def test_torn_first_line_truncates_to_empty(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"a":')
    JsonlAppender(p).close()
    assert p.read_bytes() == b""


def test_atomic_write_leaves_no_temp_files(tmp_path):
    p = tmp_path / "d" / "x.json"
    atomic_write_json(p, {"k": [1, 2]})
    atomic_write_json(p, {"k": [3]})
    assert json.loads(p.read_text()) == {"k": [3]}
    assert [f.name for f in p.parent.iterdir()] == ["x.json"]


def test_registry_duplicates_and_unknown_names():
    reg: Registry[int] = Registry("widget")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="duplicate widget name 'a'"):
        reg.add("a", 2)
    with pytest.raises(UserError, match=r"unknown widget 'b'; expected one of: a"):
        reg.get("b")


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_atomic_writes_and_appends_get_the_same_umask_mode(tmp_path, umask):
    """Every file a run writes has mode 0666 & ~umask; mkstemp's 0600 used to differ."""
    import os
    import stat

    from lingshu.core.io import atomic_write_text

    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        atomic_write_text(tmp_path / "b.md", "hi")
        with JsonlAppender(tmp_path / "c.jsonl") as out:
            out.write({"x": 1})
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(("a.json", "b.md", "c.jsonl"), 0o666 & ~umask)


def test_a_full_run_writes_every_file_with_one_mode(data_dir, tmp_path):
    import os
    import stat

    from lingshu.eval.config import EvalConfig
    from lingshu.eval.runner import run_eval

    old = os.umask(0o022)
    try:
        cfg = EvalConfig(benchmarks=["medqa-usmle"], data_dir=data_dir, backend="dummy", limit=3,
                         use_cache=False, bootstrap_resamples=100)
        run_eval(cfg, tmp_path / "run", progress=False)
    finally:
        os.umask(old)
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode))
             for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert set(modes.values()) == {oct(0o644)}, modes
