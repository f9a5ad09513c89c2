"""A stage's ``data:`` entry naming a folder or a glob pattern (issue 19, streaming SFT data):
it trains exactly as its files listed by hand (same rows, order, exclusions), the dry run
counts the same rows, and a path naming no data file is one line naming the entry."""

from __future__ import annotations

import json

import pytest
import yaml

from lingshu.cli.main import main
from lingshu.core.errors import UserError
from lingshu.train import load_recipe
from lingshu.train.config import DataSource
from lingshu.train.data.lazy import open_sft_data

from _train_helpers import make_images, qwen_row, tiny_recipe, write_jsonl

torch = pytest.importorskip("torch")

PIX = {"min_pixels": 3136, "max_pixels": 12544}


@pytest.fixture(scope="module")
def processor(tiny_vl_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_vl_dir)


def _rows(start: int, n: int) -> list:
    return [qwen_row(i, ["images/a.png", None, "../images/b.png"][i % 3], f"Question {i}?" + " more" * (i % 4),
                     f"Answer {i}.") for i in range(start, start + n)]


def _shards(tmp_path):
    """``shards/``: 3 JSONL files (3, 3 and 5 rows; one line of bad JSON, one row without an
    answer) and a parquet file (4 rows), named so that the parquet sorts between JSONL
    files; beside them a README, a manifest and a sub-folder with a shard (not read). Returns
    the 4 data files in name order and the ids they hold in that order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    make_images(tmp_path / "images")
    d = tmp_path / "shards"
    (d / "images").mkdir(parents=True)
    for f in (tmp_path / "images").iterdir():  # rows name images relative to their file's folder
        (d / "images" / f.name).write_bytes(f.read_bytes())
    no_answer = {"id": "n", "messages": [{"role": "user", "content": "only a question"}]}
    write_jsonl(d / "part-a-00000.jsonl", _rows(0, 3))
    write_jsonl(d / "part-a-00001.jsonl", _rows(3, 2) + ["{not json"])
    pq.write_table(pa.Table.from_pylist(_rows(10, 4)), d / "part-b-00000.parquet", row_group_size=2)
    write_jsonl(d / "part-c-00000.jsonl", _rows(20, 4) + [no_answer])
    (d / "README.md").write_text("# shards\n")
    (d / "manifest.json").write_text("{}")
    write_jsonl(d / "old" / "part-z.jsonl", _rows(90, 2))
    files = [d / "part-a-00000.jsonl", d / "part-a-00001.jsonl", d / "part-b-00000.parquet", d / "part-c-00000.jsonl"]
    ids = [f"q{i}" for i in [0, 1, 2, 3, 4, 10, 11, 12, 13, 20, 21, 22, 23]]
    return files, ids


def _encoded(data) -> list[tuple]:
    out = []
    for i in range(len(data)):
        e = data.encoded(i)
        out.append((e.id, e.input_ids.tolist(), e.labels.tolist(),
                     None if e.pixel_values is None else e.pixel_values.sum().item()))
    return out


def _load(entries, processor):
    data, excl = open_sft_data(entries, processor, max_length=512, seed=4, **PIX)
    return _encoded(data), [(r["file"], r["line"], r["id"], r["reason"]) for r in excl.rows]


@pytest.mark.parametrize("ratio", [1.0, 1.6])
def test_a_folder_is_its_files_listed_by_hand(processor, tmp_path, ratio):
    files, ids = _shards(tmp_path)
    got, got_excl = _load([DataSource(path=tmp_path / "shards", ratio=ratio)], processor)
    want, want_excl = _load([DataSource(path=f, ratio=ratio) for f in files], processor)
    assert got == want and got_excl == want_excl
    assert {f for f, *_ in want_excl} == {str(files[1]), str(files[3])}  # per-file exclusion keys
    if ratio == 1.0:  # the ids the 4 files hold, in name order, worked out by hand
        assert [g[0] for g in got] == ids
        assert got_excl == [(str(files[1]), 3, None, "bad_json"), (str(files[3]), 5, "n", "no_assistant")]
    assert sum(g[3] is not None for g in got) >= 6  # images really read, in both layouts
    # control: the same files in another order are other samples, and the comparison sees it
    other, _ = _load([DataSource(path=f, ratio=ratio) for f in reversed(files)], processor)
    assert other != got
    if ratio == 1.0:
        assert sorted(other) == sorted(got)


def test_glob_patterns_read_their_matches_in_path_order(processor, tmp_path):
    files, _ = _shards(tmp_path)
    got, _ = _load([DataSource(path=tmp_path / "shards" / "part-[ac]-*.jsonl")], processor)
    want, _ = _load([DataSource(path=f) for f in files if f.suffix == ".jsonl"], processor)
    assert got == want and len(got) == 3 + 2 + 4
    deep, _ = _load([DataSource(path=tmp_path / "**" / "*.jsonl")], processor)  # ** crosses folders
    by_hand = [tmp_path / "shards" / "old" / "part-z.jsonl", files[0], files[1], files[3]]  # "old" < "part-"
    assert deep == _load([DataSource(path=f) for f in by_hand], processor)[0]
    assert [d[0] for d in deep][:2] == ["q91", "q0"]  # q90's image is not beside old/part-z.jsonl


def _recipe(tmp_path, tiny_vl_dir, data: list[dict], **stage):
    p = tiny_recipe(tmp_path, tiny_vl_dir, tmp_path / "x.jsonl", **stage)
    rec = yaml.safe_load(p.read_text())
    rec["stages"][0]["data"] = data
    p.write_text(yaml.safe_dump(rec))
    return p


def test_dry_run_counts_the_rows_training_reads(processor, tmp_path, tiny_vl_dir, capsys):
    files, _ = _shards(tmp_path)
    counts = {}
    for name, data in {"hand": [{"path": str(f), "ratio": 1.5} for f in files],
                       "folder": [{"path": "shards", "ratio": 1.5}]}.items():
        rec = _recipe(tmp_path, tiny_vl_dir, data)
        assert main(["train", "--recipe", str(rec), "--dry-run", "--json"]) == 0
        counts[name] = json.loads(capsys.readouterr().out)["stages"][0]["samples"]
    # 3, 3, 4 and 5 rows at ratio 1.5: each file's rows plus round(half of them) (sft.mix):
    # 3 + 2, 3 + 2, 4 + 2, 5 + 2 (round(2.5) is 2); round(rows * 1.5) would say 22
    assert counts == {"folder": 23, "hand": 23}
    data, excl = open_sft_data([DataSource(path=tmp_path / "shards", ratio=1.5)], processor, max_length=512,
                               seed=0, **PIX)
    assert len(data) + excl.total == 23
    assert load_recipe(rec).stages[0].data_files() == files  # the folder recipe's (run manifest)
    # data not on this machine: a pattern matching nothing counts the entry's samples
    rec = _recipe(tmp_path, tiny_vl_dir, [{"path": "elsewhere/*.parquet", "samples": 1000, "ratio": 0.5}])
    assert main(["train", "--recipe", str(rec), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"][0]["samples"] == 500


@pytest.mark.parametrize(("path", "words"), [
    ("empty", "folder {d}/empty holds no data file"),
    ("shards/*.parquet.gz", "pattern {d}/shards/*.parquet.gz matches no file"),
    ("shards/*", "pattern {d}/shards/* matches {d}/shards/README.md (2 such file(s)), which is not a data file"),
    ("nowhere.jsonl", "file {d}/nowhere.jsonl does not exist"),
])
def test_a_path_naming_no_data_file_is_one_line(processor, tmp_path, tiny_vl_dir, capsys, path, words):
    _shards(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not data")
    rec = _recipe(tmp_path, tiny_vl_dir, [{"path": str(tmp_path / "shards" / "part-a-00000.jsonl")}, {"path": path}])
    assert main(["train", "--recipe", str(rec)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{rec}: stages.0.data.1.path: " + words.format(d=tmp_path) in err and "\n" not in err
    assert not (tmp_path / "run").exists()  # stopped before anything was written
    with pytest.raises(UserError, match="holds no data file|matches|does not exist"):
        open_sft_data([DataSource(path=tmp_path / path)], processor, max_length=512, seed=0, **PIX)
