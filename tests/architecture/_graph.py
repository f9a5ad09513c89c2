"""The package's import graph, read from the source with ``ast`` (nothing is imported), for
the layering contract and the size limits."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "lingshu"


@dataclass(frozen=True)
class Edge:
    src: str  # importing module, dotted
    dst: str  # imported module (or package), dotted
    line: int
    lazy: bool  # inside a function body


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def edges() -> list[Edge]:
    mods = modules()
    out: list[Edge] = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        func_lines: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        func_lines.add(sub.lineno)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node)
                # `from pkg import sub` imports the submodule when one exists
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            else:
                continue
            for t in targets:
                if t == "lingshu" or t.startswith("lingshu."):
                    out.append(Edge(mod, t, node.lineno, node.lineno in func_lines))
    return out


def top(mod: str) -> str:
    """``lingshu.eval.runner`` -> ``eval``; ``lingshu`` -> ``""``."""
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles_across_folders(all_edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of the module graph (every import, lazy ones too) that
    span more than one folder."""
    mods = set(modules())
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for e in all_edges:
        if e.dst in mods and e.dst != e.src:
            graph[e.src].add(e.dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # Tarjan, iterative enough for this graph's depth
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    import sys

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            strong(v)

    def folder(m: str) -> str:
        p = modules()[m]
        return str(p.parent)

    return [c for c in comps if len(c) > 1 and len({folder(m) for m in c}) > 1]
