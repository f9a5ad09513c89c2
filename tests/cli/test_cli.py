import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "lingshu.cli.main", *args], capture_output=True, text=True)


ALL = [
    "vqa-rad", "slake", "pathvqa", "pmc-vqa", "omnimedvqa", "mmmu-med", "medxpertqa-mm",
    "mmlu-med", "pubmedqa", "medmcqa", "medqa-usmle", "medbullets-op4", "medbullets-op5",
    "medxpertqa-text", "supergpqa-med", "iu-xray", "mimic-cxr", "chexpert-plus",
    "lingshu-demo",  # the demo pipeline's own evaluation set
]


def test_benchmarks_list_has_every_paper_benchmark():
    from lingshu.eval.benchmarks import BENCHMARKS

    assert sorted(BENCHMARKS.names()) == sorted(ALL)
    res = run("benchmarks", "list")
    assert res.returncode == 0
    for name in ALL:
        assert name in res.stdout


def test_benchmarks_info_shows_layout_source_license_split():
    res = run("benchmarks", "info", "pubmedqa")
    assert res.returncode == 0
    for word in ("source:", "license:", "split:", "ori_pqal.json", "test_ground_truth.json"):
        assert word in res.stdout
    bad = run("benchmarks", "info", "pubmed")
    assert bad.returncode == 2 and "unknown benchmark 'pubmed'" in bad.stderr


def test_help_at_every_level():
    for args in ((), ("eval",), ("eval", "run"), ("benchmarks",), ("eval", "merge"), ("eval", "compare")):
        res = run(*args, "--help")
        assert res.returncode == 0 and "Usage" in res.stdout, args
    assert "--shard" in run("eval", "run", "--help").stdout


def test_benchmark_docs_are_generated_from_the_registry():
    """docs/benchmarks.md must equal `lingshu benchmarks docs` (regenerate it if this fails)."""
    from pathlib import Path

    from lingshu.cli.benchmarks import render_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
    assert doc.read_text() == render_markdown()
