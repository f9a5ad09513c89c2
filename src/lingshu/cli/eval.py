"""``lingshu eval``: run benchmarks, compare runs, merge shards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import typer.core
from pydantic import SecretStr, ValidationError
from rich.table import Table

from lingshu.cli.output import configure_progress, make_console
from lingshu.cli.reports import score_reports as score_reports_cmd
from lingshu.core.errors import UserError

app = typer.Typer(
    help=(
        "Evaluate a model on medical benchmarks, compare runs, merge shards.\n\n"
        "Example: `lingshu eval run -b mmlu-med -b pubmedqa --data-dir ~/medbench "
        "--backend hf --model lingshu-medical-mllm/Lingshu-7B`"
    ),
    no_args_is_help=True,
)


def _choices(kind: str) -> str:
    """The members of one registry, comma-separated, for a ``--help`` text."""
    from lingshu import eval as ev

    if kind == "judge_scopes":
        import typing

        from lingshu.eval import JudgeScope

        return ", ".join(typing.get_args(JudgeScope))
    if kind == "report_metrics":
        from lingshu.eval import DEFAULT_REPORT_METRICS as DEFAULT_METRICS

        return ", ".join(DEFAULT_METRICS)
    rows = {"benchmarks": ev.benchmark_rows, "profiles": ev.profile_rows,
            "backends": ev.backend_rows}[kind]()  # fmt: skip
    return ", ".join(r.name for r in rows)


_CHOICE_KINDS = ("benchmarks", "profiles", "backends", "report_metrics", "judge_scopes")


class _RegistryHelpOption(typer.core.TyperOption):
    """An option whose help names a registry's members (``{profiles}`` in its text),
    filled in when the help is read: the registries load only for ``--help``, never for
    the other commands' start-up, and no member list is written by hand."""

    @property  # type: ignore[override]
    def help(self) -> str | None:
        text = self.__dict__.get("help")
        for kind in _CHOICE_KINDS:
            if text and "{" + kind + "}" in text:
                text = text.replace("{" + kind + "}", _choices(kind))
        return text

    @help.setter
    def help(self, value: str | None) -> None:
        self.__dict__["help"] = value


class _RunCommand(typer.core.TyperCommand):
    """``eval run``: options whose help holds ``{registry}`` become ``_RegistryHelpOption``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            text = param.__dict__.get("help") or ""
            if isinstance(param, typer.core.TyperOption) and any("{" + k + "}" in text for k in _CHOICE_KINDS):
                param.__class__ = _RegistryHelpOption


def _parse_backend_opts(pairs: list[str]) -> dict[str, Any]:
    from lingshu.core.config import parse_override

    out: dict[str, Any] = {}
    for p in pairs:
        if "=" not in p:
            raise UserError(f"--backend-opt {p!r}: expected KEY=VALUE, e.g. --backend-opt batch_size=16")
        key, value = parse_override(p, example="batch_size=16")  # values read as YAML
        out[key] = value
    return out


def _parse_splits(values: list[str]) -> str | dict[str, str]:
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    out: dict[str, str] = {}
    for v in values:
        if "=" not in v:
            raise UserError(f"--split {v!r}: with several --split options each must be BENCHMARK=SPLIT")
        b, s = (part.strip() for part in v.split("=", 1))
        if not b or not s:
            raise UserError(f"--split {v!r}: expected SPLIT, or BENCHMARK=SPLIT with both named")
        out[b] = s
    return out


def _validation_line(e: ValidationError, where: str, prefix: str = "") -> str:
    """One line naming the field by its dotted path (``generation.temprature``), in the
    shared format of ``lingshu.core.config``, with a "did you mean" for unknown keys."""
    from lingshu.core.config import format_validation_error
    from lingshu.core.registry import did_you_mean

    err = e.errors()[0]
    hint = None
    if err["type"] == "extra_forbidden":
        model = _model_at(e.title, err["loc"][:-1])
        fields = sorted(model.model_fields) if model is not None else []
        guess = did_you_mean(str(err["loc"][-1]), fields)
        hint = "; ".join(
            ([f"did you mean {guess!r}?"] if guess else [])
            + ([f"expected one of: {', '.join(fields)}"] if fields else [])
        ) or None
    return f"{where}: {prefix}{format_validation_error(e, unknown_hint=hint)}"


def _model_at(title: str, loc: tuple) -> Any:
    """The pydantic model a validation error's location points into (for its field names)."""
    from lingshu.eval import EvalConfig
    from lingshu.inference import GenerationParams

    model: Any = EvalConfig if title == "EvalConfig" else GenerationParams
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        model = next(
            (a for a in (ann, *getattr(ann, "__args__", ())) if hasattr(a, "model_fields")), None
        )
        if model is None:
            return None
    return model


def _generation(values: dict[str, Any], where: str) -> Any:
    """``generation:`` and the decoding options as the one ``GenerationParams``: unknown
    keys, wrong types and out-of-range values are one-line errors, not silent."""
    from lingshu.inference import GenerationParams

    try:
        return GenerationParams.model_validate(values)
    except ValidationError as e:
        raise UserError(_validation_line(e, where, prefix="generation.")) from None


def build_config(**kw: Any) -> Any:
    from lingshu.core.config import apply_overrides, read_yaml
    from lingshu.eval import EvalConfig, Shard

    where = "eval config" if kw["config"] is None else str(kw["config"])
    base: dict[str, Any] = {}
    if kw["config"] is not None:
        base = read_yaml(kw["config"], what="eval config")
        for key in ("generation", "backend_options", "judge"):
            if isinstance(base, dict) and base.get(key) is not None and not isinstance(base[key], dict):
                raise UserError(
                    f"{kw['config']}: field {key!r}: expected a mapping of settings, "
                    f"got {base[key]!r}"
                )
    overrides = [*(kw.get("overrides") or []), *(kw.get("set_") or [])]
    base = apply_overrides(base, overrides, example="generation.max_new_tokens=32")
    backend_options = dict(base.get("backend_options") or {})
    for key in ("model", "batch_size", "dtype", "device", "min_pixels", "max_pixels", "base_url", "api_key", "concurrency", "timeout_s", "max_retries"):
        if kw.get(key) is not None:
            backend_options[key] = kw[key]
    backend_options.update(_parse_backend_opts(kw["backend_opt"] or []))
    gen = dict(base.get("generation") or {})
    for key in ("max_new_tokens", "temperature", "top_p", "seed"):
        if kw.get(key) is not None:
            gen[key] = kw[key]
    if kw.get("stop"):
        gen["stop"] = tuple(kw["stop"])
    checked = _generation(gen, where)  # a wrong key, type or range fails here, as one line
    # Only the settings given travel on: the others are each benchmark's own defaults.
    merged = {**base, "backend_options": backend_options}
    merged.pop("generation", None)
    if gen:
        merged["generation"] = {k: getattr(checked, k) for k in gen}
    if kw.get("split"):
        merged["split"] = _parse_splits(kw["split"])
    for key in ("benchmarks", "data_dir", "profile", "backend", "cache_path"):
        if kw.get(key):
            merged[key] = kw[key]
    for key in ("limit", "chunk_size"):  # 0 is a mistake to report, not "unset"
        if kw.get(key) is not None:
            merged[key] = kw[key]
    if kw.get("report_metrics"):
        metrics = [m.strip() for m in kw["report_metrics"].split(",") if m.strip()]
        if not metrics:  # "," would silently mean "none" (issue 22: no silent acceptance)
            raise UserError(f"--report-metrics {kw['report_metrics']!r} names no metric; "
                            "give names, comma-separated (`lingshu eval metrics`)")
        merged["report_metrics"] = metrics
    if kw.get("report_weights"):
        merged["report_weights"] = kw["report_weights"]
    if kw.get("shard"):
        merged["shard"] = Shard.parse(kw["shard"])
    if kw.get("no_cache"):
        merged["use_cache"] = False
    if kw.get("fail_fast"):
        merged["fail_fast"] = True
    judge = _judge_options(base, kw)
    if judge is not None:
        merged["judge"] = judge
    if not merged.get("benchmarks"):
        raise UserError("no benchmark given: pass -b NAME (see `lingshu benchmarks list`)")
    names = merged["benchmarks"] if isinstance(merged["benchmarks"], list) else []
    if not merged.get("data_dir") and names and all(  # a bad type is EvalConfig's to report
        isinstance(b, str) and b.startswith("custom:") for b in names
    ):
        merged["data_dir"] = "."  # custom:PATH.yaml benchmarks name their own files
    if not merged.get("data_dir"):
        raise UserError("no data directory given: pass --data-dir DIR (one sub-folder per benchmark)")
    try:
        return EvalConfig(**merged)
    except ValidationError as e:
        raise UserError(_validation_line(e, where)) from None
    except TypeError as e:
        raise UserError(f"eval config: {e}") from None


_JUDGE_OPTIONS = {
    "judge": "model",
    "judge_base_url": "base_url",
    "judge_api_key": "api_key",
    "judge_scope": "scope",
    "judge_concurrency": "concurrency",
    "judge_timeout": "timeout_s",
    "judge_max_retries": "max_retries",
    "judge_max_tokens": "max_tokens",
}


def _judge_options(base: dict[str, Any], kw: dict[str, Any]) -> dict[str, Any] | None:
    """The ``judge`` section: the config file's, overridden by ``--judge*`` options."""
    judge = dict(base.get("judge") or {})
    given = {field: kw[opt] for opt, field in _JUDGE_OPTIONS.items() if kw.get(opt) is not None}
    if not judge and set(given) <= {"api_key"}:
        return None  # no judge asked for (the key may just sit in LINGSHU_JUDGE_API_KEY)
    judge.update(given)
    if not judge.get("model"):
        opts = ", ".join(
            f"--{o.replace('_', '-')}" for o in _JUDGE_OPTIONS if kw.get(o) is not None and o != "judge_api_key"
        )
        raise UserError(f"{opts} given without a judge: add --judge MODEL (see docs/judge.md)")
    return judge


def default_run_dir(cfg: Any) -> Path:
    """Deterministic, so that rerunning the same command resumes the same run."""
    model = str(cfg.backend_options.get("model") or cfg.backend).rstrip("/").split("/")[-1]
    shard = f"-shard{cfg.shard.index}of{cfg.shard.count}" if cfg.shard else ""
    return Path("runs") / f"{model}-{cfg.profile}{shard}-{cfg.identity_hash()[:8]}"


@app.command("run", cls=_RunCommand, context_settings={"allow_interspersed_args": True})
def run(
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Overrides of EvalConfig fields (of the --config file, if any) by dotted path, e.g. generation.max_new_tokens=32 limit=10; values are read as YAML."),
    benchmarks: list[str] = typer.Option(None, "--benchmark", "-b", help="Benchmark name; repeat for several: {benchmarks} (`lingshu benchmarks list`)."),
    data_dir: Path = typer.Option(None, "--data-dir", "-d", help="Folder with one sub-folder per benchmark, in the release layout (`lingshu benchmarks info NAME`)."),
    backend: str = typer.Option(None, "--backend", help="Backend: {backends} (default hf; `lingshu eval backends` shows each one's options)."),
    model: str = typer.Option(None, "--model", "-m", help="Local checkpoint folder, hub id, or alias (smollm2-135m-instruct); for openai the served model name."),
    profile: str = typer.Option(None, "--profile", help="Prompt and scoring profile: {profiles} (default strict; `lingshu eval profiles` describes each)."),
    split: list[str] = typer.Option(None, "--split", help="Split to evaluate (default: the paper's): NAME for every benchmark, or BENCHMARK=NAME (repeatable)."),
    limit: int = typer.Option(None, "--limit", help="Evaluate only the first N samples of each benchmark."),
    shard: str = typer.Option(None, "--shard", help="i/n: evaluate shard i (0-based) of n; combine with `lingshu eval merge`."),
    data_parallel: int = typer.Option(None, "--data-parallel", min=1, help="Run N shards at once on a Ray cluster (local, or RAY_ADDRESS), one model per GPU, sharing the response cache, merged into one run (docs/evaluation.md)."),
    output_dir: Path = typer.Option(None, "--output-dir", "-o", help="Run directory (default: runs/MODEL-PROFILE-HASH, HASH being the configuration's, so rerunning resumes)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Requests per forward pass (hf, vllm)."),
    dtype: str = typer.Option(None, "--dtype", help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16 (hf)."),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N (hf)."),
    min_pixels: int = typer.Option(None, "--min-pixels", help="Smallest image area after resizing (Qwen2.5-VL)."),
    max_pixels: int = typer.Option(None, "--max-pixels", help="Largest image area after resizing (Qwen2.5-VL)."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (openai)."),
    api_key: str = typer.Option(None, "--api-key", help="API key (openai); default from LINGSHU_API_KEY or OPENAI_API_KEY."),
    concurrency: int = typer.Option(None, "--concurrency", help="Requests in flight at once (openai)."),
    timeout_s: float = typer.Option(None, "--timeout", help="Seconds per request before retrying (openai)."),
    max_retries: int = typer.Option(None, "--max-retries", help="Retries per request on timeouts, 429 and 5xx (openai)."),
    backend_opt: list[str] = typer.Option(None, "--backend-opt", help="Any other backend option as KEY=VALUE (repeatable)."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", help="Tokens to generate per answer (default: the benchmark's own, `lingshu benchmarks info NAME`)."),
    temperature: float = typer.Option(None, "--temperature", help="0 = greedy (default)."),
    top_p: float = typer.Option(None, "--top-p", help="Nucleus sampling mass in (0, 1] (default 1: off; only matters when temperature > 0)."),
    seed: int = typer.Option(None, "--seed", help="Sampling seed (only matters when temperature > 0)."),
    stop: list[str] = typer.Option(None, "--stop", help="Stop string (repeatable; default: the benchmark's own)."),
    chunk_size: int = typer.Option(None, "--chunk-size", help="Requests handed to the backend at once; results are saved after each chunk."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the response cache."),
    cache_path: Path = typer.Option(None, "--cache", help="Response cache file (default $LINGSHU_CACHE/responses.sqlite or ~/.cache/lingshu/)."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failed sample instead of recording it and going on."),
    report_metrics: str = typer.Option(None, "--report-metrics", help="Report-generation metrics, comma-separated (default all: {report_metrics}; `lingshu eval metrics`)."),
    report_weights: Path = typer.Option(None, "--report-weights", help="YAML mapping weights names to local paths for model-based report metrics (docs/report-metrics.md)."),
    judge: str = typer.Option(None, "--judge", help="LLM judge for free-form answers: the model name an OpenAI-compatible endpoint serves, e.g. gpt-4.1 (docs/judge.md)."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="The judge's endpoint, e.g. http://127.0.0.1:8001/v1 (default https://api.openai.com/v1)."),
    judge_api_key: str = typer.Option(None, "--judge-api-key", envvar="LINGSHU_JUDGE_API_KEY", show_envvar=True, help="The judge's API key (never saved). Prefer the environment variable."),
    judge_scope: str = typer.Option(None, "--judge-scope", help="Which answers the judge decides, one of {judge_scopes}: open is the default for strict; the medevalkit profiles always judge where MedEvalKit does."),
    judge_concurrency: int = typer.Option(None, "--judge-concurrency", help="Judge requests in flight at once (default 8)."),
    judge_timeout: float = typer.Option(None, "--judge-timeout", help="Seconds per judge request before retrying (default 120)."),
    judge_max_retries: int = typer.Option(None, "--judge-max-retries", help="Retries per judge request on timeouts, 429 and 5xx (default 3)."),
    judge_max_tokens: int = typer.Option(None, "--judge-max-tokens", help="Longest judge answer in tokens (default 256)."),
    resume: Path = typer.Option(None, "--resume", help="Resume the run in this directory with its saved config."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run directory that holds a different configuration."),
    config: Path = typer.Option(None, "--config", help="YAML file of EvalConfig fields; KEY=VALUE overrides and command-line options override it."),
    set_: list[str] = typer.Option(None, "--set", help="KEY=VALUE override (repeatable), the same as a trailing KEY=VALUE."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Evaluate a model on one or more benchmarks.

    Answers are saved per sample as they arrive; kill the run at any moment and run the
    same command again (or `--resume RUN_DIR`) to continue without losing or repeating a
    sample. Answers are cached (SQLite), so an identical rerun costs nothing.

    With `--judge MODEL` an LLM judge then decides free-form answers (docs/judge.md); its
    verdicts are saved per sample and cached too, and a failed judge call is counted as a
    judge error, never as a wrong answer.
    """
    from lingshu.eval import check_names, print_summary, rundir, run_eval

    if resume is not None:
        cfg = rundir.load_config(resume)
        updates: dict[str, Any] = {}
        if no_cache:
            updates["use_cache"] = False
        if cache_path:
            updates["cache_path"] = cache_path
        if fail_fast:
            updates["fail_fast"] = True
        if api_key:  # never saved with the run (core.secrets): given again, or from the environment
            updates["backend_options"] = {**cfg.backend_options, "api_key": api_key}
        if judge_api_key and cfg.judge is not None:
            updates["judge"] = cfg.judge.model_copy(
                update={"api_key": SecretStr(judge_api_key), "api_key_set": True}
            )
        cfg = cfg.model_copy(update=updates)
        out = Path(resume)
    else:
        cfg = build_config(**locals())
        out = output_dir or default_run_dir(cfg)
    check_names(cfg)  # a mistyped name fails before anything is printed or created
    console = make_console()
    console.print(f"run directory: {out}")
    if data_parallel is not None and data_parallel > 1:
        from lingshu.eval import run_data_parallel

        metrics = run_data_parallel(cfg, out, data_parallel, overwrite=overwrite)
    else:
        progress = configure_progress(quiet)
        metrics = run_eval(cfg, out, progress=progress, overwrite=overwrite).metrics
    print_summary(cfg, metrics, console)
    console.print(f"per-sample results: {out / rundir.SAMPLES_DIR}/, summary: {out / rundir.SUMMARY}")


app.command("score-reports")(score_reports_cmd)


@app.command("compare")
def compare(
    run_a: Path = typer.Argument(..., help="First run directory."),
    run_b: Path = typer.Argument(..., help="Second run directory."),
    show: int = typer.Option(10, "--show", help="Disagreeing samples to print per benchmark."),
    json_out: Path = typer.Option(None, "--json", help="Write the full comparison (all disagreements) as JSON."),
) -> None:
    """Per-benchmark accuracy differences (B - A, paired bootstrap CI) and the samples on
    which the two runs disagree."""
    from lingshu.core.io import atomic_write_json
    from lingshu.eval import compare_runs, pct

    diffs = compare_runs(run_a, run_b)
    console = make_console()
    table = Table(title=f"A = {run_a}   B = {run_b}")
    for col in ("benchmark", "n common", "A %", "B %", "B - A [95% CI]", "disagree"):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    for d in diffs:
        ci = "-" if d.diff is None else f"{100 * d.diff:+.1f} [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}]"
        table.add_row(d.benchmark, str(d.n_common), pct(d.acc_a), pct(d.acc_b), ci, str(len(d.disagreements)))
    console.print(table)
    for d in diffs:
        if d.matched_by == "content":
            console.print(
                f"{d.benchmark}: sample ids differ between the runs; {d.n_common} samples "
                "matched by content (question + image hash)",
                highlight=False,
            )
    for d in diffs:
        for item in d.disagreements[:show]:
            a, b = item["a"], item["b"]
            console.print(
                f"[bold]{d.benchmark}[/] {item['sample_id']} gold={item['gold']!r}: "
                f"A={a['extracted']!r} ({'ok' if a['correct'] else 'wrong'})  "
                f"B={b['extracted']!r} ({'ok' if b['correct'] else 'wrong'})",
                markup=True,
                highlight=False,
            )
        hidden = len(d.disagreements) - min(show, len(d.disagreements))
        if hidden:
            console.print(
                f"{d.benchmark}: {hidden} more disagreements not shown (raise --show, or "
                "write them all with --json)",
                highlight=False,
            )
    if json_out is not None:
        atomic_write_json(json_out, [d.__dict__ for d in diffs])
        console.print(f"comparison written to {json_out}")


@app.command("merge")
def merge(
    shard_dirs: list[Path] = typer.Argument(..., help="Run directories of all shards (--shard 0/n ... n-1/n)."),
    output_dir: Path = typer.Option(..., "--output-dir", "-o", help="Where to write the merged run."),
) -> None:
    """Merge shard runs into one run directory with the metrics of a single run."""
    from lingshu.eval import merge_runs, print_summary, rundir

    metrics = merge_runs(shard_dirs, output_dir)
    print_summary(rundir.load_config(output_dir), metrics)
    print(f"merged run: {output_dir}")


@app.command("show")
def show(run_dir: Path = typer.Argument(..., help="A run directory."), as_json: bool = typer.Option(False, "--json", help="Print metrics.json.")) -> None:
    """Print the results table of a finished run."""
    from lingshu.eval import print_summary, rundir

    metrics = rundir.load_metrics(run_dir)
    if as_json:
        print(json.dumps(metrics, indent=2))
    else:
        print_summary(rundir.load_config(run_dir), metrics)


def _print_entries(title: str, entries: list[Any], option_header: str | None = None) -> None:
    """A registry listing: name and one-line description, then each entry's options."""
    table = Table(title=title)
    table.add_column("name")
    table.add_column("description")
    for e in entries:
        table.add_row(e.name, e.description)
    console = make_console()
    console.print(table)
    if option_header is None:
        return
    for e in entries:
        if not e.options:
            continue
        opts = Table(title=f"{e.name}: {option_header}")
        for col in ("option", "default", "description"):
            opts.add_column(col)
        for name, default, text in e.options:
            opts.add_row(name, default, text)
        console.print(opts)


@app.command("backends")
def backends() -> None:
    """List the backends that answer requests, each with its options (set them with
    `--backend-opt KEY=VALUE` or `backend_options:` in a config file)."""
    from lingshu.eval import backend_rows

    _print_entries("Backends (--backend)", backend_rows(), "options (--backend-opt KEY=VALUE)")


@app.command("profiles")
def profiles() -> None:
    """List the prompt-and-scoring profiles (`--profile`)."""
    from lingshu.eval import profile_rows

    _print_entries("Profiles (--profile)", profile_rows())


@app.command("judge-prompts")
def judge_prompts() -> None:
    """List the LLM judge's prompt versions (`judge.prompt_version` in a config)."""
    from lingshu.eval import judge_prompt_rows

    _print_entries("Judge prompts (judge.prompt_version)", judge_prompt_rows())


@app.command("metrics")
def metrics() -> None:
    """List the report-generation metrics (`--report-metrics`) and the scores each writes."""
    from lingshu.eval import metric_rows

    table = Table(title="Report metrics (--report-metrics)")
    for col in ("name", "scores", "description"):
        table.add_column(col)
    for e in metric_rows():
        table.add_row(e.name, ", ".join(k for k, _, _ in e.options), e.description)
    make_console().print(table)
