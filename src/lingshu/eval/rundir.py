"""The layout of a run directory, and reading one back.

```
runs/<name>/
  config.json        the resolved EvalConfig
  manifest.json      versions, git commit, hardware, data files (sha256), timings, tokens
  samples/<bench>.jsonl   one record per answered sample, appended as answers arrive
  metrics.json       computed from samples/ alone
  metrics.csv        the same numbers, one row each (benchmark, breakdown, group, metric, ...)
  summary.md         the human-readable report
  plots/*.png        accuracy per benchmark with CIs, invalid rate, accuracy per category
```
"""

from __future__ import annotations

import json
from pathlib import Path

from lingshu.core.errors import UserError
from lingshu.core.io import read_jsonl
from lingshu.eval.config import EvalConfig

CONFIG = "config.json"
MANIFEST = "manifest.json"
METRICS = "metrics.json"
SUMMARY = "summary.md"
SAMPLES_DIR = "samples"


def samples_path(run_dir: Path, benchmark: str) -> Path:
    return Path(run_dir) / SAMPLES_DIR / f"{benchmark}.jsonl"


def require_run(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise UserError(
            f"{run_dir}: not a run directory (no {CONFIG}); pass a folder written by "
            "`lingshu eval run`"
        )
    return run_dir


def load_config(run_dir: Path) -> EvalConfig:
    path = require_run(run_dir) / CONFIG
    try:
        return EvalConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as e:
        first = str(e).splitlines()[0]
        raise UserError(f"{path}: not a valid run config ({first})") from None


def load_records(run_dir: Path) -> list[dict]:
    """Every record of every benchmark, in file order (use ``latest_records`` to dedupe)."""
    run_dir = require_run(run_dir)
    out: list[dict] = []
    for f in sorted((run_dir / SAMPLES_DIR).glob("*.jsonl")):
        try:
            out.extend(read_jsonl(f))
        except json.JSONDecodeError as e:
            raise UserError(f"{f}: corrupt line ({e.msg}); the file was edited by hand?") from None
    return out


def load_metrics(run_dir: Path) -> dict:
    path = require_run(run_dir) / METRICS
    if not path.is_file():
        raise UserError(f"{path}: missing; the run did not finish: rerun it to resume")
    return json.loads(path.read_text(encoding="utf-8"))
