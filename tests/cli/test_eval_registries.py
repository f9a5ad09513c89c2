"""`lingshu eval backends | profiles | metrics` and the choice lists of `eval run --help`
come from the registries (issue 18): every member is shown, with its one-line description,
and nothing else; `--config` files take `key=value` overrides (trailing or `--set`)."""

from __future__ import annotations

import pytest

from lingshu.cli.eval import build_config
from lingshu.cli.main import command, main
from lingshu.core.errors import UserError


def _out(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_backends_lists_every_backend_with_its_options(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = _out(capsys, "eval", "backends")
    for name in ("dummy", "hf", "openai", "vllm"):
        assert f"│ {name} " in out
    # the dummy backend's option rows (lingshu.inference.backends.dummy.DummyConfig)
    assert "fail_every" in out and "latency_s" in out
    assert "Deterministic answers without a model" in out
    assert "vLLM's offline engine" in out  # a first word that starts lower-case stays so


def test_profiles_and_metrics_list_their_registries(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    out = _out(capsys, "eval", "profiles")
    for name in ("strict", "medevalkit", "medevalkit-reasoning"):
        assert f"│ {name} " in out
    out = _out(capsys, "eval", "metrics")
    names = ["bertscore", "bleu", "cider", "green", "meteor", "radcliq_v1", "radgraph",
             "ratescore", "rouge_l", "semb_score"]  # fmt: skip
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]
    assert [r for r in rows if r] == names
    assert "bleu1, bleu2, bleu3, bleu4" in out


def test_judge_prompts_list_their_registry(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = _out(capsys, "eval", "judge-prompts")
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]
    assert rows == ["judge-v1"]  # the one version shipped (lingshu.eval.judge.prompt)
    assert "Standard answer: {gold} ... (default)" in out


def _help_of(option: str) -> str:
    run = command().commands["eval"].commands["run"]
    return next(p for p in run.params if option in getattr(p, "opts", [])).help


def test_run_help_choices_come_from_the_registries():
    from lingshu.eval import BENCHMARKS, REPORT_METRICS

    benchmarks = _help_of("--benchmark")
    assert all(name in benchmarks for name in BENCHMARKS.names())
    assert "{" not in benchmarks
    assert "dummy, hf, openai, vllm" in _help_of("--backend")
    assert "medevalkit, medevalkit-reasoning, strict" in _help_of("--profile")
    metrics = _help_of("--report-metrics")
    assert all(name in metrics for name in REPORT_METRICS.names())
    assert "open, all-vqa, medevalkit" in _help_of("--judge-scope")


def _kw(**kw):
    base = {k: None for k in ("config", "backend_opt", "split", "overrides", "set_")}
    return {**base, **kw}


def test_config_file_overrides_trailing_and_set(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("benchmarks: [vqa-rad]\ndata_dir: /data\nlimit: 5\ngeneration: {max_new_tokens: 64}\n")
    c = build_config(**_kw(config=cfg, overrides=["limit=7"], set_=["generation.max_new_tokens=16"]))
    assert c.limit == 7 and c.generation.max_new_tokens == 16
    # a command-line option still wins over both
    c = build_config(**_kw(config=cfg, overrides=["limit=7"], limit=3))
    assert c.limit == 3


def test_bad_override_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("benchmarks: [vqa-rad]\ndata_dir: /data\n")
    with pytest.raises(UserError, match=r"override 'limit': expected key=value"):
        build_config(**_kw(config=cfg, overrides=["limit"]))
    with pytest.raises(UserError, match=r"c.yaml: limt: unknown key \(did you mean 'limit'\?"):
        build_config(**_kw(config=cfg, overrides=["limt=3"]))
