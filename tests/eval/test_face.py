"""``lingshu.eval`` is the evaluation area's face (issue 18): other areas, the CLI and
bench/ import from it only; every name it lists resolves; importing it loads nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lingshu.eval as ev

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = [p for p in (REPO / "src" / "lingshu").iterdir() if p.is_dir() and p.name != "eval"]


def _eval_submodule_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lingshu.eval."):
            found.append(f"{path.relative_to(REPO)}:{node.lineno} from {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"{path.relative_to(REPO)}:{node.lineno} import {a.name}"
                      for a in node.names if a.name.startswith("lingshu.eval.")]  # fmt: skip
    return found


def test_other_areas_import_only_the_face():
    files = [f for d in OUTSIDE for f in d.rglob("*.py")] + list((REPO / "bench").glob("*.py"))
    found = [hit for f in files for hit in _eval_submodule_imports(f)]
    assert not found, "import these from lingshu.eval:\n" + "\n".join(found)


def test_every_exported_name_resolves():
    missing = [name for name in ev.__all__ if getattr(ev, name, None) is None]
    assert not missing
    assert ev.normalize_answer("Two lesions.") == "2 lesions"


def test_importing_the_face_loads_nothing():
    code = ("import sys, lingshu.eval; "
            "print(sorted(m for m in sys.modules if m.startswith('lingshu.eval.') or m == 'torch'))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
