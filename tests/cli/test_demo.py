"""`lingshu demo` works from any directory and says how long it will take (issue 9).
The model is replaced by the dummy backend here; the real run is `make demo-eval`."""

from __future__ import annotations

from pathlib import Path

from lingshu.cli.main import main


def test_demo_runs_from_another_directory_and_announces_its_duration(tmp_path, monkeypatch, capsys):
    import lingshu.eval.runner as runner

    real = runner.run_eval
    seen = {}

    def with_dummy_model(cfg, run_dir, **kw):
        seen["data_dir"] = Path(cfg.data_dir)
        return real(cfg.model_copy(update={"backend": "dummy", "backend_options": {}}), run_dir, **kw)

    monkeypatch.setattr(runner, "run_eval", with_dummy_model)
    monkeypatch.chdir(tmp_path)  # nowhere near the repository's data/
    assert main(["demo", "--limit", "2", "-q"]) == 0
    out = capsys.readouterr().out
    assert seen["data_dir"].is_dir() and (seen["data_dir"] / "pubmedqa").is_dir()
    assert "8 questions: about" in out and "minutes" in out
    assert (tmp_path / "runs" / "demo" / "metrics.json").is_file()


def test_demo_with_a_missing_data_dir_is_one_line(tmp_path, capsys):
    assert main(["demo", "--data-dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder" in err[0]
