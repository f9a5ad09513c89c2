"""The end of a run: training JSONL shards, exclusions, summary, plots, data card, mixtures.

Output records follow CONTRACTS point 2 (Qwen-messages, image paths relative to the JSONL
file's folder) and keep ``source``, ``dataset``, ``task``, ``modality``, ``meta`` and the
per-op ``stats`` as extra keys. Images are copied content-addressed into ``data/images/``
(``output.images: copy``) or left as absolute paths (``reference``).
"""

from __future__ import annotations

import fnmatch
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.core.hashing import sha256_text
from lingshu.core.secrets import without_secrets
from lingshu.data.curate import out_store
from lingshu.data.curate.paths import is_url
from lingshu.data.curate.recipe import Recipe
from lingshu.data.curate.shard_writer import COUNTS
from lingshu.data.curate.shards import decision_file
from lingshu.data.curate.stage_files import shard_name, stage_file


@dataclass
class RunResult:
    out_dir: Path | str  # a URL stays a string
    kept: int
    excluded: int
    by_op: dict[str, int] = field(default_factory=dict)


def write_outputs(
    recipe: Recipe, out: str, read_dir: Path, stage_dirs: list[Path],
    final_decisions: Path | None, n: int, execute: Any,
) -> RunResult:
    """Write every shard in the workers (``execute``: the run's executor), then merge their
    count tables and stream their exclusions into the run's files. ``out`` is a local
    folder or a URL (``out_store``); the shards' markers stay in the work folder."""
    last = stage_dirs[-1]
    data_dir = out_store.join(out, "data")
    write_dir = last.parent / f"write-{sha256_text(last.name + recipe.output.images)[:12]}"
    jobs = [
        {"kind": "write", "src": str(stage_file(last, i)),
         "decisions": str(decision_file(final_decisions, i)) if final_decisions else "",
         "earlier": "\n".join(str(stage_file(d, i)) for d in [read_dir, *stage_dirs]),
         "data": out_store.join(data_dir, f"{shard_name(i)}.jsonl"),
         "images_dir": out_store.join(data_dir, "images"),
         "out": str(write_dir / f"{shard_name(i)}.json"), "images": recipe.output.images}
        for i in range(n)
    ]
    present = out_store.names(data_dir)  # one listing, not a request per shard
    todo = [j for j in jobs if not (Path(j["out"]).exists() and
                                    j["data"].rsplit("/", 1)[-1] in present)]
    if todo:
        execute.run(todo)
    for stale in sorted(fnmatch.filter(present, "shard-*.jsonl")):  # a run with more shards
        if stale >= f"{shard_name(n)}.jsonl":
            out_store.remove(out_store.join(data_dir, stale))
    counts: dict[str, Counter] = {k: Counter() for k in COUNTS}
    with out_store.Streams(out, ("exclusions.jsonl", "decontamination.jsonl"),
                           write_dir) as (excl, decon):
        for j in jobs:
            part = json.loads(Path(j["out"]).read_text())
            for k, v in part["counts"].items():
                counts[k].update(v)
            for e in part["exclusions"]:
                line = json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n"
                excl.write(line)
                if e["op"].startswith("decontaminate"):
                    decon.write(line)
    summary = summarise(recipe, counts)
    out_store.write_json(out_store.join(out, "summary.json"), summary)
    out_store.write_text(out_store.join(out, "summary.md"), summary_table(summary))
    out_store.write_text(out_store.join(out, "data_card.md"), data_card(recipe, summary))
    if recipe.output.plots:
        from lingshu.data.curate.plots import write_plots

        write_plots(summary, out_store.join(out, "plots"))
    if recipe.mixtures:
        write_mixtures(recipe, data_dir, n, counts["kept"], out_store.join(out, "mixtures"))
    return RunResult(out_dir=out if is_url(out) else Path(out), kept=summary["kept"],
                     excluded=summary["excluded"], by_op=summary["excluded_by_op"])


def _picked_rows(data_dir: str, n: int, wanted: dict[tuple[str, int], int]) -> list[dict]:
    """The kept rows at ``(source, position among the source's kept rows)`` -> slot,
    streamed from the shards (only the picked rows are held)."""
    out: list[dict] = [{}] * len(wanted)
    seen: Counter = Counter()
    for i in range(n):
        with out_store.open_text(out_store.join(data_dir, f"{shard_name(i)}.jsonl")) as fh:
            for line in fh:
                src = json.loads(line)["source"] if wanted else ""
                slot = wanted.get((src, seen[src]))
                seen[src] += 1
                if slot is not None:
                    out[slot] = json.loads(line)
    return out


def summarise(recipe: Recipe, counts: dict[str, Counter]) -> dict[str, Any]:
    """The run's summary from the merged per-shard count tables."""
    kept, excluded, made = counts["kept"], counts["excluded"], counts["synthesised"]
    # read + synthesised = kept + excluded, per source (every record is accounted for)
    sources = {s.name: {"read": kept[s.name] + excluded[s.name] - made[s.name],
                        "synthesised": made[s.name], "kept": kept[s.name],
                        "excluded": excluded[s.name], "license": s.license}
               for s in recipe.inputs}
    return {
        "recipe": recipe.name,
        "kept": sum(kept.values()),
        "excluded": sum(excluded.values()),
        "read": sum(v["read"] for v in sources.values()),
        "synthesised": sum(made.values()),
        "excluded_by_op": dict(sorted(counts["excluded_by_op"].items())),
        "reasons": dict(sorted(counts["reasons"].items())),
        "sources": sources,
        "modality": dict(sorted(counts["modality"].items())),
        "task": dict(sorted(counts["task"].items())),
        # value -> records: as large as the number of distinct values, not of records
        "token_lengths": dict(sorted(counts["token_lengths"].items(), key=lambda kv: int(kv[0]))),
        "image_sides": dict(sorted(counts["image_sides"].items(), key=lambda kv: int(kv[0]))),
    }


def summary_table(s: dict[str, Any]) -> str:
    lines = [f"# Curation summary: {s['recipe']}", "",
             f"Kept {s['kept']} records, excluded {s['excluded']}.", "",
             "| source | read | synthesised | kept | excluded | license |",
             "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {k} | {v['read']} | {v['synthesised']} | {v['kept']} | {v['excluded']} "
              f"| {v['license']} |" for k, v in s["sources"].items()]
    lines += ["", "| op | excluded |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in s["excluded_by_op"].items()]
    lines += ["", "| reason | count |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in s["reasons"].items()]
    lines += ["", "| modality | records |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in s["modality"].items()]
    return "\n".join(lines) + "\n"


def data_card(recipe: Recipe, s: dict[str, Any]) -> str:
    ops = "\n".join(f"{i}. `{o.op}` {json.dumps(without_secrets(o.params), sort_keys=True)}"
                    for i, o in enumerate(recipe.ops, 1)) or "(none)"
    return (
        f"# Data card: {recipe.name}\n\n"
        "Produced by `lingshu data run`; training JSONL in `data/` (Qwen-messages, image "
        "paths relative to the JSONL file).\n\n"
        "## Sources (licenses as given in the recipe; check them before redistribution)\n\n"
        + "\n".join(f"- **{k}**: read {v['read']}, synthesised {v['synthesised']}, kept "
                    f"{v['kept']}; license: {v['license']}" for k, v in s["sources"].items())
        + f"\n\n## Processing (in order)\n\n{ops}\n\n## What was removed and why\n\n"
        + ("\n".join(f"- {k}: {v}" for k, v in s["reasons"].items()) or "- nothing")
        + "\n\nEvery removed sample is listed in `exclusions.jsonl` (op, statistic, reason); "
        "benchmark matches are in `decontamination.jsonl` with the benchmark item they "
        "matched.\n\n## Composition\n\n"
        + "\n".join(f"- {k}: {v}" for k, v in s["modality"].items())
        + "\n"
    )


def write_mixtures(recipe: Recipe, data_dir: str, n: int, kept: Counter, out: str) -> None:
    """Each training stage's mixture: ``size`` records drawn from the sources in the given
    ratios (seeded, without replacement); without ``size`` the largest mixture the
    scarcest source allows. Statistics per stage in ``mixtures/<stage>.json``.

    The draw needs only each source's kept count (the merged count tables): positions
    are drawn, then the picked rows read from the shards, so the driver holds the
    mixture, never every kept row (``random.sample`` and ``shuffle`` depend on lengths
    only, so positions give the rows a draw over the rows themselves gives)."""
    for stage, mix in recipe.mixtures.items():
        total = sum(mix.sources.values())
        ratios = {k: v / total for k, v in mix.sources.items() if v > 0}
        if mix.size is None:
            size = int(min(kept.get(k, 0) / r for k, r in ratios.items()))
        else:
            size = mix.size
        rng = random.Random(mix.seed)
        picks: list[tuple[str, int]] = []
        stats: dict[str, Any] = {}
        for k, r in ratios.items():
            avail = kept.get(k, 0)
            want = round(size * r)
            take = rng.sample(range(avail), min(want, avail))
            stats[k] = {"ratio": r, "wanted": want, "taken": len(take), "available": avail}
            picks.extend((k, j) for j in take)
        rng.shuffle(picks)
        picked = _picked_rows(data_dir, n, {p: slot for slot, p in enumerate(picks)})
        for row in picked:  # mixtures live one folder up from data/: fix relative images
            for m in row["messages"]:
                for p in m["content"] if isinstance(m["content"], list) else []:
                    if p.get("type") == "image" and not Path(p["image"]).is_absolute():
                        p["image"] = "../data/" + p["image"]
        out_store.write_text(out_store.join(out, f"{stage}.jsonl"), "".join(
            json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in picked))
        out_store.write_json(out_store.join(out, f"{stage}.json"), {
            "records": len(picked), "sources": stats,
            "modality": dict(Counter(r["modality"] or "unlabelled" for r in picked)),
            "task": dict(Counter(r["task"] for r in picked))})
