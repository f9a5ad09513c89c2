"""The floors of the package (docs/ARCHITECTURE.md): ``models`` and ``inference`` import no
area (eval, train, data, pipeline, serve, cli), so every area can use them without a
circle. Read from the source with ``ast``, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import lingshu

AREAS = ("eval", "train", "data", "pipeline", "serve", "cli")
ROOT = Path(lingshu.__file__).parent


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_models_and_inference_import_no_area():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for floor in ("models", "inference")
        for path in sorted((ROOT / floor).rglob("*.py"))
        for line, name in _imports(path)
        if name.split(".")[:2] in (["lingshu", area] for area in AREAS)
    ]
    assert found == []


def test_the_check_sees_lazy_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from lingshu.eval.cache import cache_key\n")
    assert _imports(f) == [(2, "lingshu.eval.cache")]
