"""Issue 22, point 13: `lingshu train --dry-run --stage NAME` with a stage the recipe does
not have is one line (it was silently accepted: the plan showed every stage)."""

from __future__ import annotations

from lingshu.cli.main import main


def test_an_unknown_stage_in_a_dry_run_is_one_line(capsys):
    code = main(["train", "--recipe", "nano", "--dry-run", "--stage", "stage9"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: --stage 'stage9': ") and "stage4-grpo" in err[0]


def test_a_close_name_gets_a_suggestion(capsys):
    code = main(["train", "--recipe", "nano", "--dry-run", "--stage", "stage4-grp"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'stage4-grpo'?" in err
