"""RL data preparation as in the Lingshu paper (§3 stage 4, BRIEF §2).

From curated verifiable QA rows (CONTRACTS.md point 2) to the RL mixture:

1. **Rewrite** multiple-choice questions whose gold option is a word or short phrase
   (at most ``max_phrase_words`` words, not a number, not yes/no, not "all/none of the
   above") into open questions: the options are removed from the question text and the
   option's text becomes the gold answer. A rule-based reward cannot be won by guessing a
   letter on those, which is why the paper rewrites them.
2. **Balance** modality x question format: each (modality, question_type) cell keeps at
   most ``cap`` rows, ``cap`` chosen by water-filling so that the kept total is as close to
   ``target_size`` as the cells allow (small cells are kept whole, large ones are cut).
   Without ``target_size`` (and without ``max_per_cell``) nothing is cut.
3. **Down-sample yes/no** to ``yes_no_share`` of the output (paper: about 5%): yes/no rows
   make up that share of the final set, spread over modalities by the same water-filling.

Deterministic: rows are ordered by id before seeded sampling, so the same input and seed
give the same output whatever the input order. The report counts rows per modality and
format before and after, per step, and every dropped row's reason.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_json, atomic_write_text
from lingshu.inference import user_message
from lingshu.train.grpo.rows import RLRow, RowError, parse_rl_row
from lingshu.train.rewards.normalize import normalize_text, split_letter

_NOT_A_PHRASE = re.compile(r"^(all|none|both|neither) of (the )?(above|these|them)$|^[\d.,/%\s-]+$")
_OPTION_LINE = re.compile(r"^\s*\(?([A-Za-z])\)?\s*[.:)]\s+\S")
_OPTIONS_HEADER = re.compile(r"^\s*(options|choices)\s*:?\s*$", re.IGNORECASE)
_LETTER_INSTRUCTION = re.compile(r"\b(option'?s? letter|letter of the|choose the correct option)",
                                 re.IGNORECASE)


class RLDataPrepConfig(BaseModel):
    """How RL rows are rewritten, balanced and down-sampled (defaults: the Lingshu paper)."""

    model_config = ConfigDict(extra="forbid")

    rewrite_phrase_mcq: bool = Field(
        True, description="rewrite MCQs whose gold option is a word/phrase as open questions"
    )
    max_phrase_words: int = Field(
        4, ge=1, description="longest gold option (in words) that counts as a word or phrase"
    )
    yes_no_share: float = Field(
        0.05, ge=0, lt=1, description="share of yes/no rows in the output (paper: about 5%)"
    )
    target_size: int | None = Field(
        None, ge=1, description="rows wanted before yes/no are added (paper: ~100K in total)"
    )
    max_per_cell: int | None = Field(
        None, ge=1, description="hard cap per (modality, question_type) cell; overrides target"
    )
    seed: int = Field(0, description="sampling seed")


def rewrite_as_open(row: RLRow, max_words: int) -> RLRow | None:
    """The open-question form of an MCQ whose gold option is a word or phrase, else ``None``."""
    if row.question_type != "mcq" or not row.options:
        return None
    letter = None
    for gold in row.answer:
        parts = split_letter(gold)
        if parts and parts[0] in row.options:
            letter = parts[0]
            break
        letter = next(
            (k for k, v in row.options.items() if normalize_text(v) == normalize_text(gold)), None
        )
        if letter:
            break
    if letter is None:
        return None
    text = row.options[letter].strip()
    norm = normalize_text(text)
    if (
        not norm
        or len(norm.split()) > max_words
        or norm in ("yes", "no")
        or _NOT_A_PHRASE.match(norm)
    ):
        return None
    lines = [
        _cut_inline_options(line, row.options)
        for line in row.question.splitlines()
        if not _OPTIONS_HEADER.match(line)
        and not _is_option_line(line, row.options)
        and not _LETTER_INSTRUCTION.search(line)
    ]
    question = "\n".join(lines).strip()
    if not question:
        return None
    raw = {k: v for k, v in row.raw.items() if k != "options"}
    raw["messages"] = _replace_question(row.raw, question)
    raw.pop("conversations", None)
    raw.update(answer=text, question_type="open", rewritten_from="mcq")
    return RLRow(
        id=row.id, question=question, images=row.images, answer=[text], question_type="open",
        options=None, modality=row.modality, raw=raw,
    )


def _cut_inline_options(line: str, options: dict[str, str]) -> str:
    """``"Which region? A. head B. chest"`` -> ``"Which region?"``: options written on the
    question's own line are cut when every one of them is there, in order."""
    pos, first = 0, None
    for letter, text in options.items():
        m = re.compile(
            rf"(?:\(\s*{letter}\s*\)|\b{letter}\s*[.:)])\s*{re.escape(text.strip())}",
            re.IGNORECASE,
        ).search(line, pos)
        if m is None:
            return line
        first = m.start() if first is None else first
        pos = m.end()
    cut = line[:first].rstrip(" \t,;:")
    return re.sub(r"\s*(options|choices)\s*$", "", cut, flags=re.IGNORECASE) if cut else line


def _is_option_line(line: str, options: dict[str, str]) -> bool:
    m = _OPTION_LINE.match(line)
    return bool(m) and m.group(1).upper() in options


def _replace_question(raw: dict[str, Any], question: str) -> list[dict[str, Any]]:
    """A Qwen-messages user turn with the same images and the new question text."""
    images: list[Any] = []
    for msg in raw.get("messages") or []:
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                images = [p for p in content if isinstance(p, dict) and p.get("type") == "image"]
            break
    if not images:
        images = raw.get("images") or ([raw["image"]] if isinstance(raw.get("image"), str) else [])
    return [user_message(question, images)]


def water_fill(sizes: dict[Any, int], target: int) -> int:
    """Largest cap with sum(min(size, cap)) <= target (every cell kept whole if it fits)."""
    if sum(sizes.values()) <= target:
        return max(sizes.values(), default=0)
    lo, hi = 0, max(sizes.values())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(s, mid) for s in sizes.values()) <= target:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _sample_cells(
    cells: dict[tuple[str, str], list[RLRow]], cap: int, rng: random.Random
) -> list[RLRow]:
    kept = []
    for key in sorted(cells):
        rows = sorted(cells[key], key=lambda r: r.id)
        kept.extend(rows if len(rows) <= cap else rng.sample(rows, cap))
    return kept


def _table(rows: list[RLRow]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(dict)
    counts = Counter((r.modality, r.question_type) for r in rows)
    for (modality, qtype), n in sorted(counts.items()):
        table[modality][qtype] = n
    return dict(table)


def prepare_rl_rows(
    raw_rows: list[Any], config: RLDataPrepConfig
) -> tuple[list[RLRow], dict[str, Any]]:
    """Rows in, (kept rows in a seeded order, report) out; see the module docstring."""
    rng = random.Random(config.seed)
    rows: list[RLRow] = []
    dropped: Counter[str] = Counter()
    for i, raw in enumerate(raw_rows):
        try:
            if isinstance(raw, RowError):
                raise raw
            rows.append(parse_rl_row(raw, i))
        except RowError as e:
            dropped[f"invalid: {e}"] += 1
    before = _table(rows)

    rewritten = 0
    if config.rewrite_phrase_mcq:
        out = []
        for row in rows:
            new = rewrite_as_open(row, config.max_phrase_words)
            rewritten += new is not None
            out.append(new or row)
        rows = out
    after_rewrite = _table(rows)

    yes_no = [r for r in rows if r.question_type == "yes_no"]
    others = [r for r in rows if r.question_type != "yes_no"]
    cells: dict[tuple[str, str], list[RLRow]] = defaultdict(list)
    for r in others:
        cells[(r.modality, r.question_type)].append(r)
    sizes = {k: len(v) for k, v in cells.items()}
    if config.max_per_cell is not None:
        cap = config.max_per_cell
    elif config.target_size is not None:
        cap = water_fill(sizes, config.target_size)
    else:
        cap = max(sizes.values(), default=0)
    kept = _sample_cells(cells, cap, rng)
    dropped["balance: cell over cap"] += len(others) - len(kept)

    share = config.yes_no_share
    want = round(share * len(kept) / (1 - share)) if kept else 0
    yn_cells: dict[tuple[str, str], list[RLRow]] = defaultdict(list)
    for r in yes_no:
        yn_cells[(r.modality, "yes_no")].append(r)
    yn_cap = water_fill({k: len(v) for k, v in yn_cells.items()}, want) if yes_no else 0
    kept_yn = _sample_cells(yn_cells, yn_cap, rng) if want else []
    dropped["yes/no down-sampled"] += len(yes_no) - len(kept_yn)

    final = kept + kept_yn
    final.sort(key=lambda r: r.id)
    rng.shuffle(final)
    report = {
        "config": config.model_dump(),
        "rows_in": len(raw_rows),
        "rows_out": len(final),
        "mcq_rewritten_as_open": rewritten,
        "cell_cap": cap,
        "yes_no_cap": yn_cap,
        "yes_no_share_out": round(len(kept_yn) / len(final), 4) if final else 0.0,
        "dropped": dict(sorted((k, v) for k, v in dropped.items() if v)),
        "counts_before": before,
        "counts_after_rewrite": after_rewrite,
        "counts_after": _table(final),
    }
    return final, report


def prepare_rl_data(
    in_paths: list[Path], out_path: Path, config: RLDataPrepConfig
) -> dict[str, Any]:
    """Read JSONL files, prepare, write ``out_path`` (JSONL), ``<out>.report.json`` and
    ``<out>.report.md``; return the report. Image paths are rewritten relative to the output
    folder so the rows still resolve there."""
    raw_rows: list[Any] = []
    origins: list[Path] = []
    for path in in_paths:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: RL input file not found")
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = RowError(f"{path}:{lineno} is not valid JSON")
                if isinstance(row, dict):
                    row = _rebase_images(row, path.parent, Path(out_path).parent)
                raw_rows.append(row)
                origins.append(path)
    final, report = prepare_rl_rows(raw_rows, config)
    report["inputs"] = [str(p) for p in in_paths]
    text = "".join(
        json.dumps({**r.raw, "question_type": r.question_type}, ensure_ascii=False) + "\n"
        for r in final
    )
    atomic_write_text(Path(out_path), text)
    atomic_write_json(_sibling(out_path, ".report.json"), report)
    atomic_write_text(_sibling(out_path, ".report.md"), report_markdown(report))
    return report


def _sibling(path: Path, suffix: str) -> Path:
    path = Path(path)
    return path.with_name(path.stem + suffix)


def _rebase_images(row: dict[str, Any], src: Path, dst: Path) -> dict[str, Any]:
    if src.resolve() == dst.resolve():
        return row

    def rebase(p: Any) -> Any:
        if not isinstance(p, str) or Path(p).is_absolute() or "://" in p:
            return p
        return os.path.relpath(src / p, dst)

    row = json.loads(json.dumps(row))  # deep copy
    for msg in row.get("messages") or []:
        if isinstance(msg, dict) and isinstance(msg.get("content"), list):
            for part in msg["content"]:
                if isinstance(part, dict) and part.get("type") == "image" and "image" in part:
                    part["image"] = rebase(part["image"])
    if isinstance(row.get("image"), str):
        row["image"] = rebase(row["image"])
    if isinstance(row.get("images"), list):
        row["images"] = [rebase(p) for p in row["images"]]
    return row


def report_markdown(report: dict[str, Any]) -> str:
    """The report's counts as Markdown tables (modality x question type, before / after)."""
    lines = [
        "# RL data preparation report",
        "",
        f"- rows in: {report['rows_in']}, rows out: {report['rows_out']}",
        f"- MCQs rewritten as open questions: {report['mcq_rewritten_as_open']}",
        f"- cap per (modality, format) cell: {report['cell_cap']}; yes/no share out: "
        f"{report['yes_no_share_out']}",
        "",
    ]
    for key, title in (("counts_before", "Before"), ("counts_after", "After")):
        table = report[key]
        qtypes = sorted({q for row in table.values() for q in row})
        lines += [f"## {title}", "", "| modality | " + " | ".join(qtypes) + " | total |",
                  "|---" * (len(qtypes) + 2) + "|"]
        for modality, row in sorted(table.items()):
            cells = [str(row.get(q, 0)) for q in qtypes]
            lines.append(f"| {modality} | " + " | ".join(cells) + f" | {sum(row.values())} |")
        lines.append("")
    if report["dropped"]:
        lines += ["## Dropped", ""] + [f"- {k}: {v}" for k, v in report["dropped"].items()]
    return "\n".join(lines) + "\n"
