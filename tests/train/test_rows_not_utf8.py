"""Issue 22, point 12: a training row that is not UTF-8 is excluded with a reason naming its
line, as docs/training.md promises for every unusable row; the other rows are read."""

from __future__ import annotations

import json

from lingshu.train.data.sft import BadSample, read_rows


def test_a_row_that_is_not_utf8_is_excluded_not_fatal(tmp_path):
    good = {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
    path = tmp_path / "rows.jsonl"
    latin1 = b'{"messages": [{"role": "user", "content": "caf\xe9"}]}'  # Latin-1, not UTF-8
    assert latin1.index(b"\xe9") == 46
    path.write_bytes(
        json.dumps(good).encode() + b"\n"
        + latin1 + b"\n"
        + b"\n"
        + json.dumps({**good, "id": "third"}).encode() + b"\n"
    )
    rows = read_rows(path)
    assert [line for line, _ in rows] == [1, 2, 4]
    assert rows[0][1] == good and rows[2][1]["id"] == "third"
    bad = rows[1][1]
    assert isinstance(bad, BadSample) and bad.reason == "not_utf8"
    assert bad.detail == "not UTF-8 text (byte 46)"
