"""Issue 22, re-tried as an attacker and a careless user would: several hundred concrete
cases against the real CLI and server, counted per defect class ("cases tried /
acceptable") and in total.

    PYTHONPATH=src python scripts/attack_cases.py            # every case (~12 min, 2 cores)
    PYTHONPATH=src python scripts/attack_cases.py --sample   # about one case in ten
    PYTHONPATH=src python scripts/attack_cases.py --only eval  # classes whose name holds "eval"

Acceptable (the issue's definition): the correct result, or a refusal that is a 4xx (server)
or a one-line error with a non-zero exit (CLI): never a traceback, a 5xx, a hang, a secret
on disk, a stale result or a silently accepted value. Every case that is not acceptable is
listed with why. CLI cases run in one worker process (``--worker``) that calls the real
entry point (``lingshu.cli.main.main``) with its output captured at the file-descriptor
level, so a traceback printed anywhere is seen; kill -9 cases and the server run as their
own processes (``attack_server.py``). Running as root, permission cases (an unreadable
benchmark, a read-only output folder) cannot fail and are not tried; they are listed.

The generators live in ``attack_cli.py``; this file runs them and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))


def run_worker(classes: list[str], work: Path, sample: bool, out: Path) -> None:
    """In the worker process: run the CLI cases, write their results as JSON lines."""
    import attack_cli

    with out.open("w") as fh:
        for cls, name, ok, why in attack_cli.run_cases(classes, work, sample):
            fh.write(json.dumps({"cls": cls, "name": name, "ok": ok, "why": why}) + "\n")
            fh.flush()


def _worker_results(classes: list[str], work: Path, sample: bool) -> list[tuple]:
    out = work / "cli-results.jsonl"
    cmd = [sys.executable, __file__, "--worker", "--work", str(work), "--only",
           ",".join(classes)] + (["--sample"] if sample else [])
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    subprocess.run(cmd, env=env, check=False, timeout=7200)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return [(r["cls"], r["name"], r["ok"], r["why"]) for r in rows]


def table(results: list[tuple]) -> str:
    tried, good = Counter(), Counter()
    for cls, _, ok, _ in results:
        tried[cls] += 1
        good[cls] += bool(ok)
    width = max([len(c) for c in tried] + [20])
    lines = [f"{'defect class':<{width}}  tried  acceptable"]
    order = sorted(tried, key=lambda c: int(c.split()[0]))  # the point numbers
    lines += [f"{c:<{width}}  {tried[c]:>5}  {good[c]:>10}" for c in order]
    lines.append(f"{'total':<{width}}  {sum(tried.values()):>5}  {sum(good.values()):>10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", action="store_true", help="about one case in ten")
    ap.add_argument("--only", default="", help="comma-separated class name fragments")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, default=None, help="also write every result here")
    args = ap.parse_args(argv)
    only = [c for c in args.only.split(",") if c]
    work = args.work or Path(tempfile.mkdtemp(prefix="lingshu-attack-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.worker:
        run_worker(only, work, args.sample, work / "cli-results.jsonl")
        return 0
    import attack_cli

    start = time.monotonic()
    results = _worker_results(only, work, args.sample)
    if not only or any(o in "server 5 6 7 8" for o in only):
        from attack_server import server_cases

        model = attack_cli.tiny_model(work)
        results += server_cases(model, work, args.sample)
    print(table(results))
    bad = [r for r in results if not r[2]]
    for cls, name, _, why in bad:
        print(f"NOT ACCEPTABLE  [{cls}] {name}: {why}")
    print(f"{len(results)} cases in {time.monotonic() - start:.0f} s; not tried (running as "
          f"root: permissions do not bind): {', '.join(attack_cli.NOT_TRIED_AS_ROOT)}"
          if os.geteuid() == 0 else f"{len(results)} cases in {time.monotonic() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([dict(zip(("cls", "name", "ok", "why"), r, strict=True))
                                         for r in results], indent=1))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
