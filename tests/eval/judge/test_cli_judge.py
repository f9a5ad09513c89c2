"""``lingshu eval run --judge ...``: options into the config, one-line errors, the key never
saved, the summary printed, ``--resume`` with a key."""

from __future__ import annotations

import json

import pytest

from lingshu.cli.main import main


def args(data_dir, tmp_path, *extra):
    return ["eval", "run", "-b", "slake", "-d", str(data_dir), "--backend", "dummy", "--limit", "4",
            "--cache", str(tmp_path / "cache.sqlite"), "-q", *extra]


def test_judge_run_from_the_command_line(data_dir, tmp_path, stub_judge, capsys, monkeypatch):
    monkeypatch.delenv("LINGSHU_JUDGE_API_KEY", raising=False)
    run = tmp_path / "run"
    code = main(args(data_dir, tmp_path, "--profile", "medevalkit", "-o", str(run),
                     "--judge", "stub-judge", "--judge-base-url", stub_judge.url,
                     "--judge-api-key", "sk-cli-secret", "--judge-max-retries", "0",
                     "--judge-concurrency", "2", "--judge-max-tokens", "64"))
    out = capsys.readouterr().out
    assert code == 0 and "LLM judge" in out and "kappa" in out
    saved = json.loads((run / "config.json").read_text())
    assert saved["judge"] == {
        "model": "stub-judge", "base_url": stub_judge.url, "api_key_set": True, "scope": "medevalkit",
        "prompt_version": "judge-v1", "max_tokens": 64, "concurrency": 2, "timeout_s": 120.0,
        "max_retries": 0, "backoff_s": 1.0, "backoff_max_s": 30.0, "give_up_after": 20,
    }
    assert "sk-cli-secret" not in (run / "config.json").read_text() + (run / "manifest.json").read_text()
    assert stub_judge.n_requests == 4 and set(stub_judge.auth) == {"Bearer sk-cli-secret"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["benchmarks"]["slake"]["judge"]["n_in_scope"] == 4

    code = main(["eval", "run", "--resume", str(run), "--judge-api-key", "sk-other", "-q"])
    assert code == 0 and stub_judge.n_requests == 4  # all judged already


def test_judge_options_need_a_judge(data_dir, tmp_path, capsys):
    code = main(args(data_dir, tmp_path, "--judge-base-url", "http://127.0.0.1:1/v1", "--judge-scope", "open"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "error: --judge-base-url, --judge-scope given without a judge: add --judge MODEL (see docs/judge.md)"


def test_key_in_the_environment_alone_is_no_judge(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINGSHU_JUDGE_API_KEY", "sk-env")
    run = tmp_path / "run"
    assert main(args(data_dir, tmp_path, "-o", str(run))) == 0
    assert json.loads((run / "config.json").read_text())["judge"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--profile", "medevalkit", "--judge", "m", "--judge-scope", "open"),
         "error: --judge-scope open: the medevalkit profile judges exactly where MedEvalKit does"),
        (("--judge", "m", "--judge-scope", "everything"),
         "error: eval config: judge.scope: 'everything' is not allowed; input should be 'open', 'all-vqa' or 'medevalkit'"),
        (("--judge", "m", "--judge-concurrency", "0"),
         "error: eval config: judge.concurrency: Input should be greater than or equal to 1"),
    ],
)
def test_bad_judge_options_are_one_line_errors(data_dir, tmp_path, capsys, extra, message):
    assert main(args(data_dir, tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_judge_from_a_config_file(data_dir, tmp_path, stub_judge, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"judge: {{model: stub-judge, base_url: '{stub_judge.url}', scope: all-vqa, max_retries: 0}}\n")
    run = tmp_path / "run"
    assert main(args(data_dir, tmp_path, "--config", str(cfg), "-o", str(run), "--judge-max-tokens", "32")) == 0
    saved = json.loads((run / "config.json").read_text())["judge"]
    assert (saved["scope"], saved["max_tokens"], saved["api_key_set"]) == ("all-vqa", 32, False)
    assert stub_judge.n_requests == 4 and stub_judge.payloads[0]["max_tokens"] == 32
