"""The length pass in several processes (``train/data/index_pool.py``, issue 19) gives the serial
pass's index exactly: every array and every bad row, on JSONL with blank lines, CRLF, bad
rows and a multi-byte row that a naive byte cut would split, on parquet row groups and on a
WebDataset shard, with 1, 2 and 3 processes and pieces smaller than a line; and a join that
miscounts the lines of one piece is caught."""

from __future__ import annotations

import io
import json
import logging
import tarfile

import numpy as np
import pytest

from lingshu.train.data.index_pool import build_indexes, join
from lingshu.train.data.file_index import FileIndex, build_index
from lingshu.train.data.lengths import LengthCounter
from lingshu.train.data.sources import RowFile

from _train_helpers import make_images, qwen_row

pytest.importorskip("torch")

PIX = (3136, 12544)
WIDE = "肺部CT显示左上叶结节，边界清楚。🫁 " * 6  # 3- and 4-byte UTF-8 characters


@pytest.fixture(scope="module")
def counter(tiny_vl_dir):
    from transformers import AutoProcessor

    return LengthCounter(AutoProcessor.from_pretrained(tiny_vl_dir), *PIX)


def _jsonl_lines() -> list[bytes]:
    """Line by line (1-based line numbers in comments): what the serial scan must report."""
    row = lambda *a: json.dumps(qwen_row(*a), ensure_ascii=False).encode()  # noqa: E731
    return [
        row(1, "images/a.png", "Which organ?", "Left lung.") + b"\n",            # 1 image
        b"\n",                                                                     # 2 blank
        b"   \r\n",                                                                # 3 blank (CRLF)
        row(4, None, "Define edema.", "Fluid in tissue.") + b"\r\n",               # 4 CRLF row
        b"{not json\n",                                                            # 5 bad_json
        b"\xff\xfe{\"id\": 6}\n",                                                  # 6 not_utf8
        row(7, "images/b.png", WIDE, WIDE) + b"\n",                                # 7 multi-byte
        row(8, "images/missing.png", "Seen?", "No.") + b"\n",                      # 8 missing_image
        row(9, "images/corrupt.png", "Seen?", "No.") + b"\n",                      # 9 corrupt_image
        json.dumps({"id": "u", "messages": [{"role": "user", "content": "Only a question"}]}).encode()
        + b"\n",                                                                   # 10 no_assistant
        json.dumps({"id": "llava", "image": "images/a.png", "conversations": [
            {"from": "human", "value": "<image>\nOrgan?"}, {"from": "gpt", "value": "Lung."}]}).encode()
        + b"\n\n",                                                                 # 11 llava, 12 blank
        row(13, None, WIDE, "Short."),                                             # 13 no final newline
    ]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A JSONL, a parquet file of 2-row groups and a tar shard, beside their images."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("pool")
    make_images(root / "images")
    (root / "images" / "corrupt.png").write_bytes(b"\x89PNG not really")
    (root / "d.jsonl").write_bytes(b"".join(_jsonl_lines()))
    rows = [qwen_row(i, ["images/a.png", None, "images/b.png"][i % 3], f"Q{i} {WIDE[: i * 3]}", f"A{i}.")
            for i in range(7)]
    pq.write_table(pa.Table.from_pylist(rows), root / "d.parquet", row_group_size=2)
    with tarfile.open(root / "d.tar", "w") as tf:
        for i, r in enumerate(rows[:4]):
            for name, raw in ((f"s{i}.png", (root / "images" / "a.png").read_bytes()),
                              (f"s{i}.json", json.dumps({**r, "messages": [
                                  {"role": "user", "content": [{"type": "image", "image": "png"},
                                                               {"type": "text", "text": f"Q{i}"}]},
                                  r["messages"][1]]}).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(raw)
                tf.addfile(info, io.BytesIO(raw))
    return [(root / "d.jsonl", "auto"), (root / "d.parquet", "auto"), (root / "d.tar", "auto")]


def _same(a: FileIndex, b: FileIndex) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) and getattr(a, k).dtype == getattr(b, k).dtype
               for k in ("locators", "lines", "lengths", "labels")) and a.bad == b.bad


def test_serial_index_is_what_the_file_says(counter, data):
    """The reference itself, by hand: lines, reasons and usable rows of the JSONL above."""
    index = build_index(RowFile(data[0][0]), "auto", counter)
    assert index.lines.tolist() == [1, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    assert {int(index.lines[r]): v[0] for r, v in index.bad.items()} == {
        5: "bad_json", 6: "not_utf8", 8: "missing_image", 9: "corrupt_image", 10: "no_assistant"}
    raw = data[0][0].read_bytes()
    starts = [0] + [i + 1 for i, c in enumerate(raw) if c == ord("\n")]  # line n starts at starts[n - 1]
    assert index.locators.tolist() == [starts[n - 1] for n in index.lines.tolist()]
    assert (index.lengths[[0, 1, 4, 8, 9]] > 0).all()


def test_jsonl_cuts_start_at_lines(data):
    raw = data[0][0].read_bytes()
    for piece in (1, 2, 3, 5, 7, 64, 10**6):
        ranges = RowFile(data[0][0]).split(piece)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(raw)
        assert all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:]))  # contiguous, in order
        assert all(raw[a - 1:a] == b"\n" for a, _ in ranges[1:])  # never inside a line (nor a character)
        assert sum(RowFile(data[0][0]).span(a, b) for a, b in ranges) == raw.count(b"\n")


@pytest.mark.parametrize("processes,local", [(1, True), (2, False), (3, False), (3, True)])
def test_parallel_index_equals_serial(counter, data, caplog, processes, local):
    """Pieces of 1 to 7 bytes (smaller than any line) and one parquet row group each; with
    ``local=False`` the workers index every piece (with True this process joins in)."""
    serial = [build_index(RowFile(p), style, counter) for p, style in data]
    with caplog.at_level(logging.INFO, logger="lingshu.train.data.index_pool"):
        got = build_indexes(data, counter, processes, piece_bytes=processes * 2 + 1, min_bytes=0, local=local)
    for (path, _), a, b in zip(data, serial, got):
        assert isinstance(b, FileIndex) and _same(a, b), path
    stats = [r.index_stats for r in caplog.records if hasattr(r, "index_stats")]
    if processes > 1:
        jsonl_pieces = len(RowFile(data[0][0]).split(processes * 2 + 1))
        assert jsonl_pieces >= 10  # about a line each
        assert stats and stats[0]["processes"] == processes and stats[0]["pieces"] == jsonl_pieces + 4 + 1
        if not local:
            assert stats[0]["by_workers"] == stats[0]["pieces"]
    else:
        assert not stats  # one process: today's serial pass


def test_a_line_miscount_is_caught(counter, data):
    """Control: joining the same pieces with one piece's line span off by one (the blank
    line it ends with not counted) gives an index the comparison rejects."""
    path = data[0][0]
    rows = RowFile(path)
    ranges = rows.split(1)
    parts = [(build_index(rows, "auto", counter, a, b), rows.span(a, b)) for a, b in ranges]
    serial = build_index(rows, "auto", counter)
    assert _same(join(parts), serial)
    k = next(i for i, (a, b) in enumerate(ranges) if path.read_bytes()[a:b] == b"\n")  # line 2, blank
    wrong = join([(p, span - (i == k)) for i, (p, span) in enumerate(parts)])
    assert not _same(wrong, serial)
    assert (wrong.lines != serial.lines).sum() == len(serial.lines) - 1  # every row after it shifted


def test_workers_get_the_text_counter_and_a_divergent_one_is_refused(counter, monkeypatch, tmp_path):
    """Workers index without the processor (no torch): the text-only counter renders and
    tokenizes as the processor does, and counts image tokens in ``count_images`` to the same
    numbers. Control: a counter whose template output differs is refused by the probe."""
    from lingshu.train.data import index_pool
    from lingshu.train.data.sft import normalise

    light = index_pool.worker_counter(counter)
    assert type(light) is index_pool.TextCounter
    make_images(tmp_path)
    conv = normalise(qwen_row(0, "a.png", "Which organ?", "Left lung."), tmp_path)
    (length, labels), = counter.measure([conv])
    (base, base_labels, images), = light.measure([conv])
    # a.png is 84 x 56: 6 x 4 patches of 14 px, 2 x 2 patches per token: 6 tokens, in the user turn
    assert images == [(84, 56, 0)] and counter.tokens(84, 56) == 6
    assert (base + 6, base_labels) == (length, labels)
    index = FileIndex(*(np.array([v]) for v in (0, 1, base, base_labels)), bad={}, images=np.array([[0, *images[0]]]))
    counted = index_pool.count_images(index, counter)
    assert (int(counted.lengths[0]), int(counted.labels[0])) == (length, labels)
    monkeypatch.setattr(index_pool.TextCounter, "render", lambda self, chats: [t + " " for t in counter.render(chats)])
    assert index_pool.worker_counter(counter) is counter



def test_index_processes_follow_data_workers(monkeypatch):
    """data_workers + 1 when set (0: the rank alone); unset, the default workers + 1."""
    import lingshu.train.data.loader as loader
    from lingshu.train.config import SFTStageConfig
    from lingshu.train.sft import _index_processes

    stage = dict(name="s", data=[{"path": "d.jsonl"}], max_steps=1, parts={"vision": 1e-4, "merger": 1e-4, "llm": 1e-5})
    assert [_index_processes(SFTStageConfig(**stage, data_workers=w)) for w in (0, 1, 3)] == [1, 2, 4]
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    for cpus, want in ((1, 1), (2, 2), (4, 4), (16, 9)):  # default workers: CPUs - 1, at most 8
        monkeypatch.setattr(loader.os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)))
        assert _index_processes(SFTStageConfig(**stage)) == want, cpus


def test_a_script_without_main_guard_still_gets_its_index(counter, data, tiny_vl_dir, tmp_path):
    """A spawned worker imports the main module again: a script that indexes at import time
    would start workers from the worker. The worker stops with a message instead, and the
    training process indexes what it left, with a warning (no hang, the same index)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "train_unguarded.py"
    script.write_text(
        "import json\nfrom transformers import AutoProcessor\n"
        "from lingshu.train.data.index_pool import build_indexes\n"
        "from lingshu.train.data.lengths import LengthCounter\n"
        f"c = LengthCounter(AutoProcessor.from_pretrained({str(tiny_vl_dir)!r}), *{PIX!r})\n"
        f"got = build_indexes([({str(data[0][0])!r}, 'auto')], c, 2, piece_bytes=64, min_bytes=0, local=False)\n"
        "print(json.dumps([got[0].lines.tolist(), got[0].lengths.tolist()]))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    serial = build_index(RowFile(data[0][0]), "auto", counter)
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [serial.lines.tolist(), serial.lengths.tolist()]
    assert "if __name__ == " in r.stderr and "a worker process died" in r.stderr
