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
