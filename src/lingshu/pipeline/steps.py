"""Steps cached by the hash of what they depend on.

A pipeline is a chain of steps; each step writes into its own folder ``RUN/<name>/``. Its
*key* hashes the step's own configuration, the content of the files it reads and the keys
of the steps it builds on, so:

- a rerun finds ``RUN/<name>/.done.json`` holding the same key and skips the step;
- a changed configuration (or input file, or an image a step's rows reference: ``images``)
  gives a new key: the step reruns, and since
  every later step hashes this key, they all rerun too; earlier steps are untouched;
- a step killed midway left ``.key`` (written when it started) but no ``.done.json``:
  with the same key, the rerun continues in the same folder, so a step that checkpoints
  (training) resumes where it stopped; with a different key the stale folder is cleared
  first, so no output of an old configuration is ever mixed into a new one.

``.done.json`` is written atomically after the step's outputs (``core.io``), so a step
counts as finished only when everything it wrote is on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.hashing import FileDigests, sha256_file, sha256_obj
from lingshu.core.io import atomic_write_json, atomic_write_text

DONE = ".done.json"
KEY = ".key"


def files_digest(paths: Iterable[Path]) -> dict[str, str]:
    """sha256 of each file (folders: of every file under them, by relative path)."""
    out: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                out[f"{p.name}/{f.relative_to(p)}"] = sha256_file(f)
        elif p.is_file():
            out[p.name] = sha256_file(p)
        else:
            out[str(p)] = "missing"
    return out


def images_digest(paths: Iterable[Path | str]) -> str:
    """One SHA-256 over the content of every image named (by its full path, so two images
    of the same name in different folders both count): a step whose rows only *reference*
    images (the raw step, each training stage) must rerun when an image's bytes change, even
    with the same size and modification time (issue 22). A missing image hashes as ""."""
    digests = FileDigests()
    return sha256_obj(sorted((str(p), digests.file(p)) for p in {str(p) for p in paths}))


def row_images(row: dict[str, Any]) -> Iterator[str]:
    """Image paths named by one conversation row (``{"type": "image", "image": PATH}`` parts),
    in order; tolerant of malformed parts (curated rows are validated elsewhere)."""
    for message in row.get("messages", []):
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image" and isinstance(part.get("image"), str):
                yield part["image"]


def referenced_images(jsonl: Path) -> list[str]:
    """Image paths named by the conversation rows of ``jsonl``, in file order, each once."""
    seen: dict[str, None] = {}
    with open(jsonl, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                seen.update(dict.fromkeys(row_images(json.loads(line))))
    return list(seen)


RUN_TOKEN = "${RUN}"


def _map_strings(obj: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _map_strings(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_strings(v, fn) for v in obj]
    return obj


@dataclass
class StepResult:
    name: str
    key: str
    dir: Path
    output: dict[str, Any]
    cached: bool
    seconds: float
    cpu_seconds: float = 0.0  # this process's CPU time (all its threads): comparable under load


@dataclass
class StepRunner:
    """Runs steps in order under ``run_dir``; records what ran and what came from the cache."""

    run_dir: Path
    log: Callable[[str], None] = print
    results: list[StepResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir).absolute()

    def run(
        self,
        name: str,
        fn: Callable[[Path], dict[str, Any]],
        *,
        config: Any,
        after: Iterable[StepResult] = (),
        files: Iterable[Path] = (),
        images: Iterable[Path | str] = (),
    ) -> StepResult:
        """Run ``fn(step_dir) -> output`` unless a finished run with the same key exists.

        ``output`` is a JSON-able dict (paths as strings) returned again from the cache.
        """
        images = list(images)
        key = sha256_obj({
            "step": name,
            "config": config,
            "after": [r.key for r in after],
            "files": files_digest(files),
            **({"images": images_digest(images)} if images else {}),
        })
        step_dir = self.run_dir / name
        done = step_dir / DONE
        if done.is_file():
            record = json.loads(done.read_text(encoding="utf-8"))
            if record.get("key") == key:
                output = _map_strings(record["output"],
                                      lambda v: v.replace(RUN_TOKEN, str(self.run_dir)))
                result = StepResult(name, key, step_dir, output, True, 0.0)
                self.log(f"[cached] {name}")
                self.results.append(result)
                return result
        started = step_dir / KEY
        if step_dir.exists() and not (started.is_file() and started.read_text().strip() == key):
            shutil.rmtree(step_dir)  # an older configuration's outputs: never mix them in
        step_dir.mkdir(parents=True, exist_ok=True)
        resumed = started.is_file()
        atomic_write_text(started, key + "\n")
        self.log(f"[{'resume' if resumed else 'run'}] {name}")
        t0, c0 = time.time(), time.process_time()
        output = fn(step_dir)
        seconds, cpu = round(time.time() - t0, 1), round(time.process_time() - c0, 1)
        # paths inside the run folder are stored relative to it, so a moved run still resumes
        stored = _map_strings(output, lambda v: v.replace(str(self.run_dir), RUN_TOKEN))
        atomic_write_json(done, {"key": key, "output": stored, "seconds": seconds,
                                 "cpu_seconds": cpu, "load_average": os.getloadavg()[0]})
        result = StepResult(name, key, step_dir, output, False, seconds, cpu)
        self.results.append(result)
        return result
