"""A run directory across runs: create it or check that it holds the same run, learn what
is already answered, clean up after a failed start, compact a finished benchmark.

This is what makes "run the same command again" resume: the config saved in the folder
must match, samples already recorded without an error are skipped, and the per-sample
file is rewritten with one line per sample once its benchmark is done.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json, atomic_write_text, read_jsonl
from lingshu.eval import rundir
from lingshu.eval.config import EvalConfig

log = logging.getLogger(__name__)


def _check_writable_dir(run_dir: Path) -> None:
    """``-o`` naming a file, or a place that cannot be written, as one line."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--output-dir {run_dir}: is a file, not a directory; choose a folder")
    existing = next((p for p in (run_dir, *run_dir.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"--output-dir {run_dir}: {existing} is a file, not a directory")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"--output-dir {run_dir}: {existing} is not writable; choose a folder you can write"
        )


def prepare_run_dir(run_dir: Path, cfg: EvalConfig, overwrite: bool = False) -> None:
    """Create the run directory, or check that an existing one holds the same run."""
    run_dir = Path(run_dir)
    _check_writable_dir(run_dir)
    cfg_path = run_dir / rundir.CONFIG
    if cfg_path.exists() and not overwrite:
        old = rundir.load_config(run_dir)
        if old.identity_hash() != cfg.identity_hash():
            a, b = old.identity(), cfg.identity()
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise UserError(
                f"{run_dir} holds a run with a different configuration ({', '.join(diff)} "
                "differ); choose another --output-dir, or pass --overwrite to replace it"
            )
        log.info("resuming run in %s", run_dir)
    elif overwrite and run_dir.exists():
        from lingshu.eval.plots import CSV_NAME, PLOTS_DIR

        for f in (rundir.CONFIG, rundir.METRICS, rundir.SUMMARY, rundir.MANIFEST, CSV_NAME):
            (run_dir / f).unlink(missing_ok=True)
        for f in (run_dir / PLOTS_DIR).glob("*.png"):
            f.unlink()
        for f in (run_dir / rundir.SAMPLES_DIR).glob("*.jsonl"):
            f.unlink()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cfg_path, cfg.model_dump(mode="json"))
    except OSError as e:
        raise UserError(
            f"--output-dir {run_dir}: cannot write there ({e.strerror}); choose another folder"
        ) from None


def answered_ids(path: Path) -> set[str]:
    """Samples already recorded without an error (those with an error are retried)."""
    return {r["sample_id"] for r in read_jsonl(path) if r.get("error") is None}


def remove_if_empty_run(run_dir: Path, created: list[Path]) -> None:
    """After a failed run: delete the folders this run created if no sample was recorded,
    so that a mistake (missing data, a bad option) leaves nothing half-made behind. A run
    with recorded samples stays: rerunning the command resumes it."""
    samples = run_dir / rundir.SAMPLES_DIR
    if any(f.stat().st_size > 0 for f in samples.glob("*.jsonl")):
        return
    for f in (rundir.CONFIG, rundir.METRICS, rundir.SUMMARY, rundir.MANIFEST):
        (run_dir / f).unlink(missing_ok=True)
    for f in samples.glob("*.jsonl"):
        f.unlink()
    for d in (samples, *created):  # deepest first; a folder holding anything else stays
        try:
            d.rmdir()
        except OSError:
            pass


def compact_samples(path: Path) -> None:
    """Rewrite ``samples/<bench>.jsonl`` with one line per sample (the latest), atomically.

    Retried errors and judge verdicts are appended as newer records while a run goes on
    (appending is what makes a kill harmless); once a benchmark is done its file is
    compacted, so the finished run holds exactly one line per sample, as documented.
    """
    records = list(read_jsonl(path))
    latest: dict[str, dict] = {}
    for r in records:
        latest.pop(r["sample_id"], None)  # keep file order of the newest record
        latest[r["sample_id"]] = r
    if len(latest) == len(records):
        return
    kept = sorted(latest.values(), key=lambda r: r.get("index", 0))
    atomic_write_text(
        path,
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in kept),
    )
