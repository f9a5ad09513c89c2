"""`lingshu train rewards` lists every registered reward and the weight presets."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lingshu.cli.main", "train", *args],
                          capture_output=True, text=True, timeout=120)


def test_train_rewards_lists_rewards_and_presets() -> None:
    r = _run("rewards")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for name in ("accuracy", "format_no_thinking", "format_thinking"):
        assert any(line.startswith(name + " ") for line in lines), name
    assert any("lingshu" in line and "format_no_thinking 0.5, accuracy 1" in line for line in lines)
    data = json.loads(_run("rewards", "--json").stdout)
    assert data["presets"]["med-r1-thinking"] == {"format_thinking": 1.0, "accuracy": 1.0}
    assert set(data["rewards"]) >= {"accuracy", "format_thinking", "format_no_thinking"}


def test_train_prepare_rl_writes_mixture_and_report(tmp_path) -> None:
    from grpo_helpers import qa_row, write_rows

    rows = [qa_row(i, modality="CT") for i in range(6)]
    rows += [qa_row(10 + i, question_type="yes_no", answer="yes", options=None) for i in range(6)]
    src = write_rows(tmp_path / "qa.jsonl", rows)
    out = tmp_path / "rl.jsonl"
    r = _run("prepare-rl", str(src), f"out={out}", "yes_no_share=0.25", "seed=3")
    assert r.returncode == 0, r.stderr
    # 6 MCQs with one-letter option texts ("a", "b") -> rewritten as open; yes/no kept:
    # round(0.25 * 6 / 0.75) = 2.
    assert "12 rows in, 8 out (6 MCQs rewritten as open" in r.stdout
    assert len(out.read_text().splitlines()) == 8
    assert (tmp_path / "rl.report.md").is_file()
    bad = _run("prepare-rl", str(src), f"out={out}", "yes_no_fraction=0.1")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].endswith(
        "prepare-rl: yes_no_fraction: unknown key (keys: out, rewrite_phrase_mcq, "
        "max_phrase_words, yes_no_share, target_size, max_per_cell, seed)")
