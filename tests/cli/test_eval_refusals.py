"""Issue 22, points 10-11: `lingshu eval run` settings that used to give a traceback or be
silently accepted (evaluating nothing, retrying every sample, failing every sample) are
one line naming the setting, exit 2, and create no run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingshu.cli.main import main

BENCH = "medqa-usmle"


def run_eval(capsys, data_dir: Path, tmp_path: Path, *extra: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["eval", "run", "-b", BENCH, "--data-dir", str(data_dir), "--backend", "dummy",
                 "--limit", "2", "-q", "-o", str(tmp_path / "run"), *extra])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--temperature", "inf"), "temperature"),
        (("--temperature", "nan"), "temperature"),
        (("--seed", str(2**70)), "seed"),
        (("--split", "=test"), "--split '=test'"),
        (("--split", f"{BENCH}="), "BENCHMARK=SPLIT"),
        (("--split", "vqa-rad=test"), "'vqa-rad', which this run does not evaluate"),
        (("--report-metrics", "blue"), "did you mean 'bleu'?"),
        (("--report-metrics", ","), "--report-metrics ',' names no metric"),  # attack_cases
        (("--backend", "openai", "--model", "m", "--base-url", "htp:/x"), "base_url"),
        (("--backend", "openai", "--model", "m", "--base-url", "localhost:8000"), "not an http(s) URL"),
        (("--shard", "5/2"), "0 <= i < n"),
        (("--max-new-tokens", str(10**12)), "longer than any model's context; use at most 16,777,216"),
    ],
)
def test_bad_settings_are_one_line(capsys, data_dir, tmp_path, extra, expected):
    code, err = run_eval(capsys, data_dir, tmp_path, *extra)
    assert code == 2 and len(err) == 1 and expected in err[0], err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"shard: 5/2\n", "0 <= i < n"),
        (b"shard: {index: 5, count: 2}\n", "0 <= i < n"),
        (b"shard: {index: 0, count: 0}\n", "0 <= i < n"),
        (b"generation: fast\n", "field 'generation': expected a mapping"),
        (b"backend_options: [1, 2]\n", "field 'backend_options': expected a mapping"),
        (b"limit: 2\nsplit: {\xff: test}\n", "not UTF-8"),
        (b"\xfe\xff\x00s\x00h", "not UTF-8"),
    ],
)
def test_bad_config_files_are_one_line_naming_the_file(capsys, data_dir, tmp_path, content, expected):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(content)
    code, err = run_eval(capsys, data_dir, tmp_path, "--config", str(cfg))
    assert code == 2 and len(err) == 1, err
    assert expected in err[0] and str(cfg) in err[0], err[0]
    assert not (tmp_path / "run").exists()


def test_a_shard_in_a_config_file_means_what_the_option_means(capsys, data_dir, tmp_path):
    import json

    cfg = tmp_path / "c.yaml"
    cfg.write_text("shard: 1/2\n")
    code, err = run_eval(capsys, data_dir, tmp_path, "--config", str(cfg))
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["shard"] == {"index": 1, "count": 2}
    assert len((tmp_path / "run" / "samples" / f"{BENCH}.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize(("content", "expected"), [
    ("benchmarks: 1\n", "benchmarks: Input should be a valid list"),
    ("benchmarks: [null]\n", "benchmarks.0: Input should be a valid string"),
])
def test_benchmarks_of_the_wrong_type_in_a_config(capsys, data_dir, tmp_path, content, expected):
    """Found by the fuzz pass (tests/core/test_fuzz_recipes.py): a traceback before."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(content + f"data_dir: {data_dir}\nbackend: dummy\n")
    code = main(["eval", "run", "--config", str(cfg), "-q", "-o", str(tmp_path / "run")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and expected in err[0], err
