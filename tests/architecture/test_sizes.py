"""Size limits that keep modules readable (STYLE §9): no module over 500 lines and no
function over 120 lines in the package, the benches and the scripts (tests are exempt)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = [ROOT / "src", ROOT / "bench", ROOT / "scripts"]
FILES = sorted(p for t in TREES for p in t.rglob("*.py"))


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.name)
def test_no_module_over_500_lines(tree):
    big = {str(p.relative_to(ROOT)): n for p in tree.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not big, f"modules over 500 lines (split by responsibility): {big}"


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.name)
def test_no_function_over_120_lines(tree):
    long = []
    for p in tree.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 120:
                    long.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "functions over 120 lines:\n" + "\n".join(long)


def test_the_checks_see_the_package():
    """Guard against a wrong root making the checks above vacuous."""
    assert any(p.name == "registry.py" for p in FILES) and len(FILES) > 150
