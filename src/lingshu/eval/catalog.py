"""What can be chosen for a run, read from the registries: benchmarks, profiles, report
metrics and backends, each with a one-line description (and its options where it has
some). ``lingshu eval backends | profiles | metrics``, ``lingshu benchmarks list`` and the
choice lists in ``lingshu eval run --help`` are made from these, so no list of members is
ever written by hand and none can fall behind the code.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """One member of a registry as the CLI lists it."""

    name: str
    description: str
    options: tuple[tuple[str, str, str], ...] = field(default=())  # (name, default, help)


def first_line(text: str | None) -> str:
    """The first sentence-line of a docstring, without a leading ````name``: ```` label."""
    lines = inspect.cleandoc(text or "").splitlines()
    line = lines[0] if lines else ""
    if line.startswith("``") and "``: " in line:
        line = line.split("``: ", 1)[1]
    if line[1:2].islower():  # "any checkpoint" -> "Any checkpoint"; "vLLM's" stays
        line = line[:1].upper() + line[1:]
    return line


def benchmark_rows() -> list[Entry]:
    from lingshu.eval.benchmarks import BENCHMARKS

    return [Entry(n, first_line(BENCHMARKS.get(n).description())) for n in BENCHMARKS.names()]


def profile_rows() -> list[Entry]:
    from lingshu.eval.prompts import PROFILES

    return [Entry(n, PROFILES.get(n).description) for n in PROFILES.names()]


def metric_rows() -> list[Entry]:
    """Report-generation metrics; the options are the scores each one writes."""
    from lingshu.eval.metrics.reports import REPORT_METRICS

    out = []
    for name in REPORT_METRICS.names():
        metric = REPORT_METRICS.get(name)
        keys = tuple((k, "", "score key") for k in metric.keys)
        out.append(Entry(name, metric.description, keys))
    return out


def backend_rows() -> list[Entry]:
    """Backends with their options (``--backend-opt KEY=VALUE``); the description is the
    first line of the backend module's docstring."""
    import lingshu.inference.backends  # noqa: F401  (registers every backend)
    from lingshu.inference import BACKENDS, describe_backend_options

    out = []
    for name in BACKENDS.names():
        cls = BACKENDS.get(name)
        doc = cls.__dict__.get("__doc__") or getattr(sys.modules.get(cls.__module__), "__doc__", "")
        out.append(Entry(name, first_line(doc), tuple(describe_backend_options(name))))
    return out


def judge_prompt_rows() -> list[Entry]:
    """Judge prompt versions (``judge.prompt_version``), each with its template's first line."""
    from lingshu.eval.judge.prompt import DEFAULT_PROMPT_VERSION, JUDGE_PROMPTS

    out = []
    for name in JUDGE_PROMPTS.names():
        first = JUDGE_PROMPTS.get(name).template.strip().splitlines()[0]
        default = " (default)" if name == DEFAULT_PROMPT_VERSION else ""
        out.append(Entry(name, f"{first} ...{default}"))
    return out
