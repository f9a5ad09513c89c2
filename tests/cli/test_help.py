"""`--help` reads cleanly at every level (issue 9): no type tags such as `<bool>` or
`<list[str]>`, no text swallowed as markup (`runs/<model>-...` once showed as `runs/--`),
nothing cut off with an ellipsis, help text on every option, every profile named."""

from __future__ import annotations

import re

import pytest

from lingshu.cli.main import command, main


def _paths(cmd, prefix=()):
    yield prefix
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _paths(sub, (*prefix, name))


def _lookup(path):
    cmd = command()
    for name in path:
        cmd = cmd.commands[name]
    return cmd


ALL = list(_paths(command()))


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "lingshu" for p in ALL])
def test_help_renders_cleanly(path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage: lingshu" in out
    assert not re.search(r"<(bool|str|int|float|path|list\[[^\]]*\])>", out), out
    assert "…" not in out, "help text cut off:\n" + out
    assert "runs/--" not in out and "/--," not in out, out
    assert "\r" not in out and "\x1b[" not in out  # off a terminal: plain text


@pytest.mark.parametrize("path", [p for p in ALL if p], ids=[" ".join(p) for p in ALL if p])
def test_every_option_has_help(path):
    cmd = _lookup(path)
    missing = [p.name for p in cmd.params if not p.hidden and not (getattr(p, "help", None) or "").strip()
               and p.param_type_name == "option"]
    assert not missing, f"lingshu {' '.join(path)}: options without help: {missing}"


def test_profile_option_lists_every_profile():
    from lingshu.eval.prompts.base import PROFILES

    for path in [p for p in ALL if p]:
        for p in _lookup(path).params:
            if "--profile" in getattr(p, "opts", []):
                for name in PROFILES.names():
                    assert name in p.help, (path, name, p.help)


def test_default_run_directory_is_shown(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    main(["eval", "run", "--help"])
    out = capsys.readouterr().out
    assert "runs/MODEL-PROFILE-HASH" in out
