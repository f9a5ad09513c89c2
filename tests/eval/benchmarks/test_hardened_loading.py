"""Benchmark files as users really have them (issue 9): undecodable bytes and corrupt
parquet give one line naming file and row; Hugging Face exports never write into the data
folder (a read-only one works), a ``load_dataset`` cache folder loads, the VQA-RAD export
says once how its evaluation differs; image paths outside the benchmark folder are refused
per sample, never read or sent."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from pathlib import Path

import pytest

from lingshu.core.errors import DataError, UserError
from lingshu.eval.benchmarks.medmcqa import MedMCQA
from lingshu.eval.benchmarks.medqa_usmle import MedQAUSMLE
from lingshu.eval.benchmarks.pmc_vqa import PmcVqa
from lingshu.eval.benchmarks.slake import Slake
from lingshu.eval.benchmarks.vqa_rad import VqaRad

REPO = Path(__file__).resolve().parents[3]
BUNDLED = REPO / "data" / "benchmarks"
FIXTURES = REPO / "tests" / "fixtures" / "benchmarks"
VQA_RAD_JSON = "VQA_RAD Dataset Public (train rows only).json"


def _copy(src: Path, tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(src, dest, symlinks=True)
    return dest


def _break_line(path: Path, lineno: int) -> None:
    """Put a byte that is never UTF-8 (0xff) into line ``lineno`` (1-based)."""
    lines = path.read_bytes().split(b"\n")
    lines[lineno - 1] = lines[lineno - 1][:20] + b"\xff\xfe" + lines[lineno - 1][20:]
    path.write_bytes(b"\n".join(lines))


# ---- undecodable bytes and corrupt parquet ------------------------------------------------


def test_undecodable_jsonl_names_file_and_line(tmp_path):
    root = _copy(BUNDLED / "medqa-usmle", tmp_path, "medqa-usmle")
    _break_line(root / "phrases_no_exclude_test.jsonl", 7)
    with pytest.raises(UserError, match=r"phrases_no_exclude_test.jsonl:7: not UTF-8 text") as e:
        MedQAUSMLE().load(tmp_path)
    assert "\n" not in str(e.value)


def test_undecodable_json_lines_release_named_json(tmp_path):
    root = _copy(BUNDLED / "medmcqa", tmp_path, "medmcqa")
    _break_line(root / "dev.json", 3)
    with pytest.raises(UserError, match=r"dev.json:3: not UTF-8 text"):
        MedMCQA().load(tmp_path)


def test_undecodable_json_names_file_and_line(tmp_path):
    root = tmp_path / "slake"
    root.mkdir()
    os.symlink(BUNDLED / "slake" / "imgs", root / "imgs")
    src = (BUNDLED / "slake" / "test.sample40images.json").read_text(encoding="utf-8")
    rows = json.loads(src)
    text = json.dumps(rows, ensure_ascii=False, indent=1)
    (root / "test.json").write_text(text, encoding="utf-8")
    _break_line(root / "test.json", 12)
    with pytest.raises(UserError, match=r"test.json: line 12: not UTF-8 text"):
        Slake().load(tmp_path)


def test_undecodable_csv_names_file_and_row(tmp_path):
    root = _copy(FIXTURES / "pmc-vqa", tmp_path, "pmc-vqa")
    (root / "figures").mkdir()
    _break_line(root / "test_2.csv", 3)
    with pytest.raises(UserError, match=r"test_2.csv: row 3: not UTF-8 text"):
        PmcVqa().load(tmp_path)


def test_corrupt_parquet_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "vqa-rad" / "data" / "test-00000-of-00001.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 this is not a parquet file at all")
    with pytest.raises(UserError, match=r"test-00000-of-00001.parquet: not a readable parquet") as e:
        VqaRad().load(tmp_path)
    assert "\n" not in str(e.value)


# ---- Hugging Face exports ------------------------------------------------------------------


def _vqa_rad_rows(n: int = 12) -> list[dict]:
    rows = json.loads((BUNDLED / "vqa-rad" / VQA_RAD_JSON).read_text(encoding="utf-8"))[:n]
    images = BUNDLED / "vqa-rad" / "VQA_RAD Image Folder"
    return [
        {
            "image": {"bytes": (images / r["image_name"]).read_bytes(), "path": r["image_name"]},
            "question": r["question"],
            "answer": str(r["answer"]),
        }
        for r in rows
    ]


def _features():
    import datasets

    return datasets.Features(
        {"image": datasets.Image(), "question": datasets.Value("string"), "answer": datasets.Value("string")}
    )


def _write_vqa_rad_export(tmp_path: Path) -> Path:
    """The flaviagiammarino/vqa-rad parquet layout, built from the bundled release rows."""
    import datasets

    root = tmp_path / "vqa-rad"
    (root / "data").mkdir(parents=True)
    ds = datasets.Dataset.from_list(_vqa_rad_rows(), features=_features())
    ds.to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    return root


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_parquet_images_go_to_the_cache_dir_and_a_read_only_data_folder_works(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LINGSHU_CACHE", str(cache))
    root = _write_vqa_rad_export(tmp_path / "data")
    before = _tree(root)
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        samples = VqaRad().load(tmp_path / "data")
    finally:
        for p in [root, *root.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert _tree(root) == before, "nothing may be written into the data folder"
    assert len(samples) == 12
    for s in samples:
        assert Path(s.images[0]).is_relative_to(cache) and Path(s.images[0]).is_file()


def test_vqa_rad_export_warns_once_how_its_evaluation_differs(tmp_path, caplog):
    _write_vqa_rad_export(tmp_path)
    with caplog.at_level(logging.WARNING):
        samples = VqaRad().load(tmp_path)
    lines = [r.getMessage() for r in caplog.records if "Hugging Face export" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "hf-test-N" in lines[0] and "eval compare" in lines[0] and "open prompt" in lines[0]
    assert samples[0].id == "hf-test-0"


def test_a_load_dataset_cache_folder_loads(tmp_path, monkeypatch):
    """``datasets.load_dataset(...)`` leaves ``<builder>-<split>.arrow`` files (arrow
    stream format) under ``<cache>/<owner>___<name>/default/0.0.0/<hash>/``."""
    import datasets

    monkeypatch.setenv("LINGSHU_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    datasets.Dataset.from_list(_vqa_rad_rows(), features=_features()).to_parquet(str(src / "test.parquet"))
    hf_cache = tmp_path / "hf-cache"
    datasets.load_dataset("parquet", data_files={"test": str(src / "test.parquet")}, cache_dir=str(hf_cache))
    assert list(hf_cache.rglob("*-test.arrow")), "the datasets cache layout this test relies on"
    shutil.copytree(hf_cache, tmp_path / "data" / "vqa-rad")
    samples = VqaRad().load(tmp_path / "data")
    assert [s.question for s in samples] == [r["question"] for r in _vqa_rad_rows()]


def test_a_cache_folder_without_the_split_names_the_layout_to_export(tmp_path):
    import datasets

    src = tmp_path / "src"
    src.mkdir()
    datasets.Dataset.from_list(_vqa_rad_rows(), features=_features()).to_parquet(str(src / "x.parquet"))
    hf_cache = tmp_path / "hf-cache"
    datasets.load_dataset("parquet", data_files={"validation": str(src / "x.parquet")}, cache_dir=str(hf_cache))
    shutil.copytree(hf_cache, tmp_path / "data" / "vqa-rad")
    with pytest.raises(DataError, match=r"no .*-test\.arrow.*save_to_disk") as e:
        VqaRad().load(tmp_path / "data")
    assert "\n" not in str(e.value)


# ---- image paths outside the benchmark folder ----------------------------------------------


def test_image_paths_outside_the_benchmark_folder_are_refused_per_sample(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the model")
    root = tmp_path / "data" / "vqa-rad"
    (root / "VQA_RAD Image Folder").mkdir(parents=True)
    rows = json.loads((BUNDLED / "vqa-rad" / VQA_RAD_JSON).read_text(encoding="utf-8"))[:4]
    for r in rows:
        shutil.copy(BUNDLED / "vqa-rad" / "VQA_RAD Image Folder" / r["image_name"], root / "VQA_RAD Image Folder")
    rows[1]["image_name"] = "../../secret.png"
    rows[2]["image_name"] = str(secret)
    (root / VQA_RAD_JSON).write_text(json.dumps(rows), encoding="utf-8")
    samples = VqaRad().load(tmp_path / "data", "train")
    assert [s.refused is None for s in samples] == [True, False, False, True]
    for s in samples[1:3]:
        assert s.images == () and "outside the benchmark folder" in s.refused
        assert "secret.png" in s.refused


def test_refused_samples_are_recorded_as_errors_and_never_sent(tmp_path):
    from lingshu.inference import Backend
    from lingshu.eval.config import EvalConfig
    from lingshu.eval.runner import run_eval
    from lingshu.inference import Response

    class Recorder(Backend):
        name = "recorder"

        def __init__(self):
            self.seen = []

        def fingerprint(self):
            return {"name": "recorder"}

        def generate(self, requests, params):
            self.seen += [r.id for r in requests]
            return [Response(text="yes") for _ in requests]

    root = tmp_path / "data" / "vqa-rad"
    (root / "VQA_RAD Image Folder").mkdir(parents=True)
    rows = json.loads((BUNDLED / "vqa-rad" / VQA_RAD_JSON).read_text(encoding="utf-8"))[:3]
    for r in rows:
        shutil.copy(BUNDLED / "vqa-rad" / "VQA_RAD Image Folder" / r["image_name"], root / "VQA_RAD Image Folder")
    rows[0]["image_name"] = "../../../etc/hostname"
    (root / VQA_RAD_JSON).write_text(json.dumps(rows), encoding="utf-8")
    backend = Recorder()
    cfg = EvalConfig(
        benchmarks=["vqa-rad"], split="train", data_dir=tmp_path / "data", backend="dummy",
        cache_path=tmp_path / "c.sqlite", bootstrap_resamples=100,
    )  # fmt: skip
    run_eval(cfg, tmp_path / "run", backend=backend, progress=False)
    recs = [json.loads(x) for x in (tmp_path / "run" / "samples" / "vqa-rad.jsonl").read_text().splitlines()]
    refused = [r for r in recs if r["sample_id"] == str(rows[0]["qid"])]
    assert refused and refused[0]["error"].startswith("refused:") and refused[0]["images"] == []
    assert str(rows[0]["qid"]) not in backend.seen and len(backend.seen) == 2


def test_parquet_path_cells_outside_the_benchmark_folder_are_refused(tmp_path):
    import datasets

    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the model")
    rows = _vqa_rad_rows(3)
    rows[1]["image"] = {"bytes": None, "path": "../../secret.png"}
    rows[2]["image"] = {"bytes": None, "path": str(secret)}
    root = tmp_path / "data" / "vqa-rad"
    (root / "data").mkdir(parents=True)
    # image cells as stored (bytes + path struct), so that writing does not read the paths
    cell = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    features = datasets.Features(
        {"image": cell, "question": datasets.Value("string"), "answer": datasets.Value("string")}
    )
    ds = datasets.Dataset.from_list(rows, features=features)
    ds.to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    samples = VqaRad().load(tmp_path / "data")
    assert [s.refused is None for s in samples] == [True, False, False]
    assert all("outside the benchmark folder" in s.refused and s.images == () for s in samples[1:])


def test_cli_prints_one_line_and_exits_non_zero_for_bad_data_files(tmp_path):
    import subprocess
    import sys

    root = _copy(BUNDLED / "medqa-usmle", tmp_path / "data", "medqa-usmle")
    _break_line(root / "phrases_no_exclude_test.jsonl", 7)
    bad = tmp_path / "data" / "vqa-rad" / "data" / "test-00000-of-00001.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage")
    for bench, what in (("medqa-usmle", "jsonl:7: not UTF-8 text"), ("vqa-rad", "not a readable parquet")):
        res = subprocess.run(
            [sys.executable, "-m", "lingshu.cli.main", "eval", "run", "-b", bench, "--data-dir",
             str(tmp_path / "data"), "--backend", "dummy", "-o", str(tmp_path / bench), "-q"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert res.returncode != 0 and "Traceback" not in res.stderr
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and what in lines[0], res.stderr
