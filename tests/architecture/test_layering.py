"""The layering contract (docs/architecture.md): dependencies point one way.

- ``core`` imports no other part of lingshu; ``models`` imports only ``core``; ``inference``
  imports only ``core`` and ``models``.
- The areas (``eval``, ``serve``, ``train``, ``data``, ``pipeline``) import each other only
  through the other area's face (its ``__init__``), never a submodule.
- Nothing imports ``pipeline`` or ``cli`` except ``cli``.
- No import circle spans files of different folders (lazy imports inside functions count:
  they are circles a reader must untangle all the same).

Each rule is checked on the source with ``ast``; a failure lists every offending import
with its file and line, so the fix is obvious.
"""

from __future__ import annotations

from ._graph import cycles_across_folders, edges, top

LOWER = {"core": set(), "models": {"core"}, "inference": {"core", "models"}}
AREAS = {"eval", "serve", "train", "data", "pipeline"}


def _fmt(bad) -> str:
    return "\n".join(f"  {e.src} line {e.line} imports {e.dst}" for e in bad)


def test_lower_layers_import_no_area():
    bad = [e for e in edges()
           if top(e.src) in LOWER and top(e.dst) not in LOWER[top(e.src)] | {top(e.src), ""}]
    assert not bad, "a lower layer imports a higher one:\n" + _fmt(bad)


def test_areas_meet_through_their_faces():
    bad = [e for e in edges()
           if top(e.src) in AREAS and top(e.dst) in AREAS and top(e.dst) != top(e.src)
           and e.dst != f"lingshu.{top(e.dst)}"]
    assert not bad, "an area imports another area's internals (use its __init__):\n" + _fmt(bad)


def test_nothing_imports_pipeline_or_cli():
    bad = [e for e in edges()
           if top(e.dst) in {"pipeline", "cli"} and top(e.src) not in {top(e.dst), "cli"}]
    assert not bad, "pipeline and cli are top layers; nothing may import them:\n" + _fmt(bad)


def test_no_import_circle_across_folders():
    cycles = cycles_across_folders(edges())
    assert not cycles, "import circles across folders:\n" + "\n".join(
        "  " + " -> ".join(c) for c in cycles)
