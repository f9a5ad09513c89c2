"""The compact record files of a run's steps (``stage_files``): the exact bytes, a round
trip equal to the indented JSON the steps wrote before, and the text that breaks a
naive line split."""

from __future__ import annotations

import gzip
import json

from lingshu.data.curate.stage_files import (
    decode_stage,
    encode_stage,
    read_stage,
    shard_index,
    stage_file,
    write_stage,
)

TRICKY = [
    {"id": "a:1", "text": "line one\nline two", "z": 1, "b": None},
    {"id": "a:2", "text": "sep\u2028para\u2029fs\x1cgs\x1d\x85 José 肺炎", "nan": float("nan")},
    {"id": "a:3", "nested": {"k": [1, 2.5, {"y": True}], "a": {}}, "text": ""},
]


def test_the_file_is_gzip_of_a_header_and_one_sorted_json_line_per_row():
    data = encode_stage([{"id": "t:0", "b": 2, "a": "é"}], [{"op": "read", "id": "t:1"}])
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME 0: same shard, same bytes
    assert gzip.decompress(data).decode() == (
        '{"exclusions":1,"format":"jsonl.gz-1","records":1}\n'
        '{"a":"é","b":2,"id":"t:0"}\n'
        '{"id":"t:1","op":"read"}\n')
    assert encode_stage([{"id": "t:0", "b": 2, "a": "é"}],
                        [{"op": "read", "id": "t:1"}]) == data


def test_round_trip_equals_the_indented_json_of_before():
    excl = [{"id": "a:0", "op": "read", "reason": "missing image", "statistic": {}}]
    before = json.loads(json.dumps({"records": TRICKY, "exclusions": excl}, indent=2,
                                   ensure_ascii=False, sort_keys=True))
    records, exclusions = decode_stage(encode_stage(TRICKY, excl))
    assert len(records) == 3 and exclusions == before["exclusions"]
    # NaN != NaN: compare the JSON text, which also compares key order
    assert json.dumps(records) == json.dumps(before["records"])
    assert [list(r) for r in records] == [sorted(r) for r in TRICKY]


def test_empty_shard_and_file_names(tmp_path):
    path = stage_file(tmp_path / "stage0-abc", 7)
    assert path.name == "shard-00007.jsonl.gz" and shard_index(path) == 7
    write_stage(path, [], [])
    assert read_stage(path) == ([], [])
    assert [p.name for p in path.parent.iterdir()] == ["shard-00007.jsonl.gz"]  # no temp left
