"""Every input layout -> the same Qwen-messages records; bad rows excluded with a reason."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from curation_helpers import BENCH, rad_images, write_jsonl

from lingshu.core.errors import UserError
from lingshu.data.curate.readers import read_input
from lingshu.data.curate.recipe import InputSpec
from lingshu.data.curate.record import Record


def read(tmp_path, **spec):
    spec.setdefault("name", "src")
    items = list(read_input(InputSpec(**spec), tmp_path / "work", tmp_path))
    recs = [i for i in items if isinstance(i, Record)]
    excl = [i for i in items if not isinstance(i, Record)]
    return recs, excl


def test_jsonl_styles_give_identical_messages(tmp_path):
    img = rad_images(1)[0]
    rows = [
        {"id": "llava", "image": str(img), "conversations": [
            {"from": "human", "value": "<image>\nWhat organ?"}, {"from": "gpt", "value": "lung"}]},
        {"id": "sharegpt", "images": [str(img)], "messages": [
            {"role": "user", "content": "<image>What organ?"},
            {"role": "assistant", "content": "lung"}]},
        {"id": "qwen", "messages": [
            {"role": "user", "content": [{"type": "image", "image": str(img)},
                                         {"type": "text", "text": "What organ?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "lung"}]}]},
        {"id": "flat", "question": "What organ?", "answer": "lung", "image": str(img)},
    ]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recs, excl = read(tmp_path, path="d.jsonl")
    assert not excl
    assert [r.id for r in recs] == ["src:llava", "src:sharegpt", "src:qwen", "src:flat"]
    assert all(r.messages == recs[0].messages for r in recs)
    assert recs[0].images() == [str(img)] and recs[0].text("assistant") == "lung"


def test_a_rows_meta_object_travels_with_the_record(tmp_path):
    rows = [{"id": "m", "question": "Which organ makes bile?\nA. liver\nB. spleen", "answer": "A. liver",
             "meta": {"question_type": "mcq", "options": {"A": "liver", "B": "spleen"}, "answer": "A",
                      "license": "from meta"},
             "license": "CC0-1.0"},
            {"id": "plain", "question": "q", "answer": "a", "meta": "not an object"}]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recs, excl = read(tmp_path, path="d.jsonl")
    assert not excl
    assert recs[0].meta == {"question_type": "mcq", "options": {"A": "liver", "B": "spleen"},
                            "answer": "A", "license": "CC0-1.0"}  # top-level keys win
    assert recs[1].meta == {}


def test_bad_rows_are_excluded_and_the_run_goes_on(tmp_path):
    p = tmp_path / "d.jsonl"
    good = json.dumps({"question": "q", "answer": "a"}).encode()
    missing = json.dumps({"id": "m", "question": "q", "answer": "a", "image": "nope.png"})
    p.write_bytes(good + b"\n{broken\n" + b'{"question": "caf\xe9"}\n' + missing.encode()
                  + b"\n" + json.dumps({"foo": 1}).encode() + b"\n")
    recs, excl = read(tmp_path, path="d.jsonl")
    assert len(recs) == 1
    reasons = [e["reason"] for e in excl]
    assert reasons[0].startswith("unreadable row: not JSON")
    assert reasons[1] == "unreadable row: line is not UTF-8"
    assert reasons[2] == "missing image" and excl[2]["statistic"]["path"].endswith("nope.png")
    assert reasons[3].startswith("unrecognised row")
    assert all(e["op"] == "read" for e in excl)


def test_missing_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read(tmp_path, path="absent.jsonl")


def test_csv_parquet_and_hf_disk(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    img = rad_images(1)[0]
    (tmp_path / "d.csv").write_text(f"q,a,img\nWhat organ?,lung,{img.name}\n")
    recs, _ = read(tmp_path, path="d.csv", question_field="q", answer_field="a",
                   image_field="img", image_root=str(img.parent))
    assert recs[0].images() == [str(img)] and recs[0].text("user") == "What organ?"

    data = img.read_bytes()
    table = pa.table({"question": ["What organ?"], "answer": ["lung"],
                      "image": [{"bytes": data, "path": "x.jpg"}]})
    pq.write_table(table, tmp_path / "d.parquet")
    recs, _ = read(tmp_path, path="d.parquet")
    assert Path(recs[0].images()[0]).read_bytes() == data

    ds = datasets.Dataset.from_dict({"question": ["What organ?"], "answer": ["lung"],
                                     "image": [{"bytes": data, "path": "x.jpg"}]})
    ds = ds.cast_column("image", datasets.Image(decode=False))
    ds.save_to_disk(str(tmp_path / "hf"))
    recs, _ = read(tmp_path, path="hf")
    assert Path(recs[0].images()[0]).read_bytes() == data


def test_webdataset_refuses_path_traversal(tmp_path):
    img = rad_images(1)[0].read_bytes()
    tar = tmp_path / "shard-000.tar"
    with tarfile.open(tar, "w") as tf:
        for name, data in [("s1.jpg", img), ("s1.txt", b"A chest radiograph."),
                           ("../evil.txt", b"x"), ("/abs/evil.jpg", img),
                           ("s2.jpg", img), ("s2.json", b'{"question": "Organ?", "answer": "lung"}')]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    recs, excl = read(tmp_path, path="shard-000.tar")
    assert [r.id for r in recs] == ["src:shard-000/s1", "src:shard-000/s2"]
    assert recs[0].text("assistant") == "A chest radiograph."
    assert recs[1].text("user") == "Organ?"
    assert sorted(e["reason"] for e in excl) == ["unsafe archive member path"] * 2
    assert not (tmp_path.parent / "evil.txt").exists()


def test_image_folder_with_captions_and_labels(tmp_path):
    d = tmp_path / "folder" / "chest"
    d.mkdir(parents=True)
    for p in rad_images(2):
        (d / p.name).write_bytes(p.read_bytes())
    (d / rad_images(1)[0].name).with_suffix(".txt").write_text("A radiograph.")
    recs, _ = read(tmp_path, path="folder")
    assert len(recs) == 2 and recs[0].meta == {"label": "chest"}
    assert recs[0].task == "caption" and recs[0].text("assistant") == "A radiograph."
    assert recs[1].task == "image"


def test_dicom_folder_keeps_acquisition_metadata(tmp_path):
    from pydicom.data import get_testdata_file

    d = tmp_path / "dcm"
    d.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        (d / name).write_bytes(Path(get_testdata_file(name, download=False)).read_bytes())
    (d / "broken.dcm").write_bytes(b"not dicom")
    recs, excl = read(tmp_path, path="dcm")
    mods = {r.id: r.meta["dicom"]["Modality"] for r in recs}
    assert mods == {"src:CT_small.dcm": "CT", "src:MR_small.dcm": "MR"}
    assert all(Path(r.images()[0]).suffix == ".png" for r in recs)
    assert "PatientName" not in recs[0].meta["dicom"]
    assert excl[0]["id"] == "src:broken.dcm" and excl[0]["reason"].startswith("unreadable DICOM")


def test_benchmark_layout_through_the_registry(tmp_path):
    recs, _ = read(tmp_path, path=str(BENCH), format="benchmark", benchmark="vqa-rad",
                   split="train", limit=5)
    assert len(recs) == 5 and all(r.images() for r in recs)
    assert recs[0].meta["benchmark"] == "vqa-rad"
