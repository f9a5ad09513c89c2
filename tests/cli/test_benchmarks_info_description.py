"""`lingshu benchmarks info NAME` shows the benchmark's own description, never a
docstring inherited from a Python base class (issue 9: 15 of 18 showed ABC's)."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

from lingshu.cli.benchmarks import app, render_markdown
from lingshu.eval.benchmarks import BENCHMARKS

ABC_DOC = "Helper class that provides a standard way"


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_info_shows_the_benchmarks_own_description(name):
    res = CliRunner().invoke(app, ["info", name])
    assert res.exit_code == 0, res.output
    assert ABC_DOC not in res.output
    cls = BENCHMARKS.get(name)
    own = cls.__dict__.get("__doc__") or importlib.import_module(cls.__module__).__doc__
    first_line = own.strip().splitlines()[0]
    assert first_line in res.output


def test_generated_docs_carry_no_base_class_docstring():
    assert ABC_DOC not in render_markdown()
