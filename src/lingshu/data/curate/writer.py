"""The end of a run: training JSONL shards, exclusions, summary, plots, data card, mixtures.

Output records follow CONTRACTS point 2 (Qwen-messages, image paths relative to the JSONL
file's folder) and keep ``source``, ``dataset``, ``task``, ``modality``, ``meta`` and the
per-op ``stats`` as extra keys. Images are copied content-addressed into ``data/images/``
(``output.images: copy``) or left as absolute paths (``reference``).
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from lingshu.core.secrets import without_secrets
from lingshu.core.io import atomic_write_json, atomic_write_text
from lingshu.data.curate.recipe import Recipe
from lingshu.data.curate.record import Record
from lingshu.data.curate.runner import RunResult, copy_image, shard_name


def training_row(rec: Record) -> dict[str, Any]:
    return {"id": rec.id, "messages": rec.messages, "source": rec.source,
            "dataset": rec.dataset, "task": rec.task, "modality": rec.modality,
            "meta": rec.meta, "stats": rec.stats}


def write_outputs(
    recipe: Recipe, out_dir: Path, read_dir: Path, stage_dirs: list[Path],
    final_decisions: Path | None, n: int,
) -> RunResult:
    data_dir = out_dir / "data"
    last = stage_dirs[-1]
    decisions = json.loads(final_decisions.read_text()) if final_decisions else None
    exclusions: list[dict] = []
    for d in [read_dir, *stage_dirs]:
        for i in range(n):
            exclusions.extend(json.loads((d / f"{shard_name(i)}.json").read_text())["exclusions"])
    kept_rows: list[dict] = []
    for i in range(n):
        shard = json.loads((last / f"{shard_name(i)}.json").read_text())
        rows = []
        for r in shard["records"]:
            rec = Record.from_dict(r)
            if decisions and rec.id in decisions["drop"]:
                d = decisions["drop"][rec.id]
                exclusions.append({"id": rec.id, "source": rec.source, "dataset": rec.dataset,
                                   "op": decisions["op"], "reason": d["reason"],
                                   "statistic": d["statistic"]})
                continue
            if recipe.output.images == "copy":
                rec.replace_images({p: copy_image(p, data_dir / "images") for p in rec.images()})
            rows.append(training_row(rec))
        # always rewritten: an existing file may hold an earlier run's rows (issue 22)
        atomic_write_text(data_dir / f"{shard_name(i)}.jsonl", "".join(
            json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))
        kept_rows.extend(rows)
    for stale in data_dir.glob("shard-*.jsonl"):  # an earlier run with more shards
        if stale.name >= f"{shard_name(n)}.jsonl":
            stale.unlink()
    atomic_write_text(out_dir / "exclusions.jsonl", "".join(
        json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in exclusions))
    summary = summarise(recipe, kept_rows, exclusions)
    atomic_write_json(out_dir / "summary.json", summary)
    atomic_write_text(out_dir / "summary.md", summary_table(summary))
    atomic_write_text(out_dir / "data_card.md", data_card(recipe, summary))
    decon = [e for e in exclusions if e["op"].startswith("decontaminate")]
    atomic_write_text(out_dir / "decontamination.jsonl", "".join(
        json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in decon))
    if recipe.output.plots:
        from lingshu.data.curate.plots import write_plots

        write_plots(summary, out_dir / "plots")
    if recipe.mixtures:
        write_mixtures(recipe, kept_rows, out_dir / "mixtures")
    by_op = summary["excluded_by_op"]
    return RunResult(out_dir=out_dir, kept=len(kept_rows), excluded=len(exclusions),
                     by_op=by_op)


def _token_lengths(rows: list[dict]) -> list[int]:
    out = []
    for r in rows:
        t = r["stats"].get("token_count")
        if t:
            out.append(t["tokens"])
    return out


def summarise(recipe: Recipe, rows: list[dict], exclusions: list[dict]) -> dict[str, Any]:
    sizes = []
    for r in rows:
        for w, h in r["stats"].get("image_decodable", {}).get("sizes", []):
            sizes.append([w, h])
    by_source_in: Counter[str] = Counter()
    by_source_out = Counter(r["source"] for r in rows)
    for r in rows:
        by_source_in[r["source"]] += 1
    for e in exclusions:
        by_source_in[e["source"]] += 1
    return {
        "recipe": recipe.name,
        "kept": len(rows),
        "excluded": len(exclusions),
        "excluded_by_op": dict(sorted(Counter(e["op"] for e in exclusions).items())),
        "reasons": dict(sorted(Counter(f"{e['op']}: {e['reason']}" for e in exclusions)
                               .items())),
        "sources": {s.name: {"read": by_source_in.get(s.name, 0),
                             "kept": by_source_out.get(s.name, 0), "license": s.license}
                    for s in recipe.inputs},
        "modality": dict(sorted(Counter(r["modality"] or "unlabelled" for r in rows).items())),
        "task": dict(sorted(Counter(r["task"] for r in rows).items())),
        "token_lengths": _token_lengths(rows),
        "image_sizes": sizes,
    }


def summary_table(s: dict[str, Any]) -> str:
    lines = [f"# Curation summary: {s['recipe']}", "",
             f"Kept {s['kept']} records, excluded {s['excluded']}.", "",
             "| source | read | kept | license |", "|---|---:|---:|---|"]
    lines += [f"| {k} | {v['read']} | {v['kept']} | {v['license']} |"
              for k, v in s["sources"].items()]
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
        + "\n".join(f"- **{k}**: read {v['read']}, kept {v['kept']}; license: {v['license']}"
                    for k, v in s["sources"].items())
        + f"\n\n## Processing (in order)\n\n{ops}\n\n## What was removed and why\n\n"
        + ("\n".join(f"- {k}: {v}" for k, v in s["reasons"].items()) or "- nothing")
        + "\n\nEvery removed sample is listed in `exclusions.jsonl` (op, statistic, reason); "
        "benchmark matches are in `decontamination.jsonl` with the benchmark item they "
        "matched.\n\n## Composition\n\n"
        + "\n".join(f"- {k}: {v}" for k, v in s["modality"].items())
        + "\n"
    )


def write_mixtures(recipe: Recipe, rows: list[dict], out: Path) -> None:
    """Each training stage's mixture: ``size`` records drawn from the sources in the given
    ratios (seeded, without replacement); without ``size`` the largest mixture the
    scarcest source allows. Statistics per stage in ``mixtures/<stage>.json``."""
    by_source: dict[str, list[dict]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
    for stage, mix in recipe.mixtures.items():
        total = sum(mix.sources.values())
        ratios = {k: v / total for k, v in mix.sources.items() if v > 0}
        if mix.size is None:
            size = int(min(len(by_source.get(k, [])) / r for k, r in ratios.items()))
        else:
            size = mix.size
        rng = random.Random(mix.seed)
        picked: list[dict] = []
        stats: dict[str, Any] = {}
        for k, r in ratios.items():
            pool = by_source.get(k, [])
            want = round(size * r)
            take = rng.sample(pool, min(want, len(pool)))
            stats[k] = {"ratio": r, "wanted": want, "taken": len(take), "available": len(pool)}
            picked.extend(copy.deepcopy(take))
        rng.shuffle(picked)
        for row in picked:  # mixtures live one folder up from data/: fix relative images
            for m in row["messages"]:
                for p in m["content"] if isinstance(m["content"], list) else []:
                    if p.get("type") == "image" and not Path(p["image"]).is_absolute():
                        p["image"] = "../data/" + p["image"]
        atomic_write_text(out / f"{stage}.jsonl", "".join(
            json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in picked))
        atomic_write_json(out / f"{stage}.json", {
            "records": len(picked), "sources": stats,
            "modality": dict(Counter(r["modality"] or "unlabelled" for r in picked)),
            "task": dict(Counter(r["task"] for r in picked))})
