"""Readers: every supported input layout -> a stream of ``Record`` (or exclusion rows).

A reader never raises on one bad row: an unreadable line, a missing image, non-UTF-8
text or an unsafe archive member becomes an exclusion with op ``read`` and the run goes
on. A missing input file or folder is a ``UserError`` (the recipe is wrong). Order is
deterministic (sorted file names), which is what lets shards be rebuilt identically on a
rerun after a kill.

Conversation styles recognised per row (CONTRACTS point 2): Qwen-messages (``messages``
whose contents are part lists), ShareGPT (``messages``/``conversations`` with
``role``/``content`` strings and ``images``), LLaVA (``conversations`` with
``from``/``value`` and ``<image>`` placeholders, ``image``), and flat
``question``/``answer``/``image`` rows (column names configurable).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from lingshu.core.errors import UserError
from lingshu.core.registry import Registry
from lingshu.data.curate.record import Record, conversation

log = logging.getLogger(__name__)

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

Item = Record | dict[str, Any]
Reader = Callable[["ReaderContext"], Iterator[Item]]

READERS: Registry[Reader] = Registry("input format")
"""``inputs[].format`` -> reader; ``lingshu data readers`` lists them with their summary."""

Split = Callable[[Path, int], list[tuple[dict[str, Any], int]]]
SPLITS: dict[str, Split] = {}
"""Reader name -> how its input splits into pieces a worker reads alone: ``(piece, weight
in bytes)`` pairs in read order, each piece a ``read_input(piece=...)`` argument the reader
honours (``read_pieces.py`` registers them). A format without one is read as one piece."""


def register_reader(name: str) -> Callable[[Reader], Reader]:
    return READERS.register(name)


def register_split(name: str) -> Callable[[Split], Split]:
    def deco(fn: Split) -> Split:
        if name not in READERS:
            raise KeyError(f"split for unknown reader {name!r}")
        SPLITS[name] = fn
        return fn

    return deco


def reader_summary(name: str) -> str:
    """The first sentence of the reader's docstring (what it reads)."""
    text = " ".join((READERS.get(name).__doc__ or "").split("\n\n")[0].split()).replace("``", "`")
    return text.split(". ")[0].rstrip(".") + "."


def read_row_exclusion(source: str, key: str, reason: str, **stat: Any) -> dict[str, Any]:
    return {"id": f"{source}:{key}", "source": source, "dataset": source, "op": "read",
            "reason": reason, "statistic": stat}


def read_input(spec, work_dir: Path, base_dir: Path,  # noqa: ANN001
               path: Path | None = None, number_ids: bool = True,
               piece: dict[str, Any] | None = None) -> Iterator[Item]:
    """The input's records (and read exclusions); ``path``: where it was staged
    (``paths.stage_input``), else ``spec.path`` as a local path. ``number_ids``: a
    repeated row key gets ``#1``, ``#2`` ... here (a table of every key); False leaves
    ids as ``name:key`` for the read step's jobs to number (``read_step.py``). ``piece``:
    only that part of the input (one of its ``SPLITS`` pieces; None: all of it)."""
    if path is None:
        path = Path(spec.path).expanduser()
        path = path if path.is_absolute() else base_dir / path
    reader = READERS.get(input_format(spec, path))
    ctx = ReaderContext(spec, path, work_dir / "images", base_dir, number_ids)
    ctx.piece = piece
    count = 0
    for item in reader(ctx):
        if isinstance(item, Record):
            if spec.limit is not None and count >= spec.limit:
                return
            count += 1
            item.dataset = spec.dataset or spec.name
            item.task = item.task or spec.task
        yield item


def input_format(spec, path: Path) -> str:  # noqa: ANN001
    """The reader name of input ``spec`` staged at ``path`` (``auto``: guessed)."""
    if not path.exists():
        raise UserError(f"input {spec.name!r}: {path} not found; fix inputs[].path")
    fmt = spec.format if spec.format != "auto" else _guess_format(path)
    if fmt not in READERS:
        raise UserError(f"input {spec.name!r}: cannot tell the format of {path}; set format: "
                        f"(one of {', '.join(READERS.names())})")
    return fmt


class ReaderContext:
    """What a reader gets: the input's spec, its staged path, where embedded images go,
    and ``piece``, the part of the input to read (None: all of it; ``SPLITS``)."""

    piece: dict[str, Any] | None = None

    def __init__(self, spec, path: Path, image_dir: Path, base_dir: Path,  # noqa: ANN001
                 number_ids: bool = True) -> None:
        self.spec, self.path, self.image_dir = spec, path, image_dir
        root = spec.image_root
        if root is not None:
            root = Path(root) if Path(root).is_absolute() else base_dir / root
        self.image_root = root
        self.ids: dict[str, int] | None = {} if number_ids else None

    def rid(self, key: str) -> str:
        if self.ids is None:
            return f"{self.spec.name}:{key}"
        n = self.ids.get(key, 0)
        self.ids[key] = n + 1
        return f"{self.spec.name}:{key}" if n == 0 else f"{self.spec.name}:{key}#{n}"

    def image_path(self, ref: str, rel_to: Path) -> Path:
        p = Path(ref)
        if p.is_absolute():
            return p
        return (self.image_root or rel_to) / p

    def save_bytes(self, data: bytes, ext: str) -> str:
        """Embedded image bytes (parquet, HF, tar) -> a file under the run's work dir,
        named by content. Read jobs in several workers may save the same image at once:
        each writes its own temporary file and renames it over the name (atomic), so the
        file is always whole, and the same whoever renamed last."""
        digest = hashlib.sha256(data).hexdigest()[:32]
        ext = ext if ext.startswith(".") else f".{ext}"
        out = self.image_dir / f"{digest}{ext.lower()}"
        if not out.exists():
            from lingshu.core.io import atomic_write_bytes

            atomic_write_bytes(out, data)
        return str(out)

    def record(self, key: str, messages: list[dict], **kw: Any) -> Record:
        return Record(id=self.rid(key), source=self.spec.name, messages=messages,
                      task=kw.pop("task", self.spec.task), **kw)


def _guess_format(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return "hf_disk"
        names = [p.suffix.lower() for p in path.rglob("*") if p.is_file()]
        if any(s == ".dcm" for s in names):
            return "dicom_folder"
        if any(s == ".tar" for s in names):
            return "webdataset"
        return "image_folder"
    suffix = "".join(path.suffixes[-1:]).lower()
    return {".jsonl": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet",
            ".tar": "webdataset"}.get(suffix, "unknown")


# ---- conversation rows --------------------------------------------------------------

_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
         "system": "system", "bot": "assistant", "model": "assistant"}


def row_to_messages(row: dict[str, Any], ctx: ReaderContext, rel_to: Path) -> tuple[list[dict], list[str]]:
    """Any supported row style -> (Qwen messages with absolute image paths, missing images)."""
    images = row.get("images")
    if images is None and row.get(ctx.spec.image_field) is not None:
        images = row[ctx.spec.image_field]
    if isinstance(images, str | dict):
        images = [images]
    paths = [_image_ref(im, ctx, rel_to) for im in (images or [])]
    turns = row.get("messages") or row.get("conversations")
    if turns is None:
        q, a = row.get(ctx.spec.question_field), row.get(ctx.spec.answer_field)
        if q is None and a is None:
            raise ValueError(
                f"no messages/conversations and no {ctx.spec.question_field!r}/"
                f"{ctx.spec.answer_field!r} fields"
            )
        msgs = conversation(str(q or ""), str(a if a is not None else ""), paths)
    else:
        msgs = _turns(turns, paths)
    missing = [p for p in _all_images(msgs) if not Path(p).is_file()]
    return msgs, missing


def _image_ref(im: Any, ctx: ReaderContext, rel_to: Path) -> str:
    if isinstance(im, dict):  # HF Image feature: {"bytes": ..., "path": ...}
        if im.get("bytes"):
            ext = Path(im.get("path") or "x.png").suffix or ".png"
            return ctx.save_bytes(im["bytes"], ext)
        im = im.get("path") or ""
    if hasattr(im, "save"):  # PIL image from datasets
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return ctx.save_bytes(buf.getvalue(), ".png")
    return str(ctx.image_path(str(im), rel_to))


def _turns(turns: list[dict], paths: list[str]) -> list[dict]:
    queue = list(paths)
    msgs = []
    for t in turns:
        role = _ROLE.get(str(t.get("role", t.get("from", ""))).lower(), "user")
        content = t.get("content", t.get("value", ""))
        if isinstance(content, list):  # Qwen-messages already
            parts = []
            for p in content:
                if p.get("type") == "image":
                    ref = p.get("image") or p.get("path") or ""
                    if queue and not ref:
                        ref = queue.pop(0)
                    parts.append({"type": "image", "image": ref})
                else:
                    parts.append({"type": "text", "text": str(p.get("text", ""))})
            msgs.append({"role": role, "content": parts})
            continue
        text = str(content)
        parts = []
        n_tags = text.count("<image>")
        for _ in range(n_tags):
            if queue:
                parts.append({"type": "image", "image": queue.pop(0)})
        text = text.replace("<image>", "").strip()
        parts.append({"type": "text", "text": text})
        msgs.append({"role": role, "content": parts})
    if queue:  # images not placed by <image> tags go before the first user text
        for m in msgs:
            if m["role"] == "user":
                m["content"] = [{"type": "image", "image": p} for p in queue] + m["content"]
                break
    return msgs


def _all_images(msgs: list[dict]) -> list[str]:
    return [p["image"] for m in msgs for p in m["content"] if p.get("type") == "image"]


def _rows_to_records(rows: Iterator[tuple[str, Any]], ctx: ReaderContext, rel_to: Path) -> Iterator[Item]:
    for key, row in rows:
        if isinstance(row, Exception):
            yield read_row_exclusion(ctx.spec.name, key, f"unreadable row: {row}")
            continue
        if not isinstance(row, dict):
            yield read_row_exclusion(ctx.spec.name, key, "row is not an object")
            continue
        rid = str(row.get("id", row.get("qid", key)))
        try:
            msgs, missing = row_to_messages(row, ctx, rel_to)
        except (ValueError, TypeError, AttributeError) as e:
            yield read_row_exclusion(ctx.spec.name, rid, f"unrecognised row: {e}")
            continue
        if missing:
            yield read_row_exclusion(ctx.spec.name, rid, "missing image", path=missing[0])
            continue
        # a row's own ``meta`` object (e.g. a multiple-choice row's question_type, options
        # and answer) travels with the record; the top-level keys below win over it
        meta = dict(row["meta"]) if isinstance(row.get("meta"), dict) else {}
        meta.update({k: row[k] for k in ("license", "label", "organ") if k in row})
        yield ctx.record(rid, msgs, modality=row.get("modality"), meta=meta,
                         task=row.get("task", ctx.spec.task))


@register_reader("jsonl")
def _read_jsonl(ctx: ReaderContext) -> Iterator[Item]:
    """JSON Lines: one conversation or flat question/answer row per line."""
    piece = ctx.piece or {"start": 0, "end": None, "line": 0}

    def rows():
        with ctx.path.open("rb") as fh:
            fh.seek(piece["start"])  # a piece starts at a line start: keys stay line numbers
            left = piece["end"] - piece["start"] if piece["end"] is not None else None
            for i, raw in enumerate(fh, piece["line"]):
                if left is not None:
                    if left <= 0:
                        return
                    left -= len(raw)
                if not raw.strip():
                    continue
                try:
                    yield str(i), json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield str(i), ValueError("line is not UTF-8")
                except json.JSONDecodeError as e:
                    yield str(i), ValueError(f"not JSON ({e.msg})")

    yield from _rows_to_records(rows(), ctx, ctx.path.parent)


@register_reader("json")
def _read_json(ctx: ReaderContext) -> Iterator[Item]:
    """One JSON file: a list of rows (or {"data": [...]}/{"rows": [...]})."""
    try:
        data = json.loads(ctx.path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{ctx.path}: not a UTF-8 JSON file ({e}); fix or convert it") from None
    if isinstance(data, dict):
        data = data.get("data") or data.get("rows") or [data]
    yield from _rows_to_records(((str(i), r) for i, r in enumerate(data)), ctx, ctx.path.parent)


@register_reader("csv")
def _read_csv(ctx: ReaderContext) -> Iterator[Item]:
    """CSV with a header row; question/answer/image columns as configured."""
    def rows():
        raw = ctx.path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            log.warning("%s: not UTF-8; rows with undecodable bytes are excluded", ctx.path)
            text = raw.decode("utf-8", errors="replace")
        for i, row in enumerate(csv.DictReader(io.StringIO(text))):
            if any("\ufffd" in (v or "") for v in row.values()):
                yield str(i), ValueError("text is not UTF-8")
            else:
                yield str(i), {k: v for k, v in row.items() if v not in (None, "")}

    yield from _rows_to_records(rows(), ctx, ctx.path.parent)


@register_reader("parquet")
def _read_parquet(ctx: ReaderContext) -> Iterator[Item]:
    """Parquet file or folder of them (HF exports; embedded image bytes)."""
    import pyarrow.parquet as pq

    files = parquet_files(ctx.path)
    piece = ctx.piece

    def rows():
        for f in files if piece is None else [files[piece["file"]]]:
            if piece is None:
                table, first = pq.read_table(f), 0
            else:  # row groups [a, b) of one file, its rows from ``row`` on
                table, first = pq.ParquetFile(f).read_row_groups(range(*piece["groups"])), \
                    piece["row"]
            for i, row in enumerate(table.to_pylist(), first):
                yield f"{f.stem}-{i}" if len(files) > 1 else str(i), row

    yield from _rows_to_records(rows(), ctx, ctx.path if ctx.path.is_dir() else ctx.path.parent)


def parquet_files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.parquet")) if path.is_dir() else [path]


@register_reader("hf_disk")
def _read_hf_disk(ctx: ReaderContext) -> Iterator[Item]:
    """A `datasets` save_to_disk folder (split: picks one of a DatasetDict)."""
    import datasets

    ds = datasets.load_from_disk(str(ctx.path))
    if isinstance(ds, datasets.DatasetDict):
        split = ctx.spec.split or next(iter(ds))
        ds = ds[split]
    yield from _rows_to_records(((str(i), r) for i, r in enumerate(ds)), ctx, ctx.path)


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not (p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")))


@register_reader("webdataset")
def _read_webdataset(ctx: ReaderContext) -> Iterator[Item]:
    """WebDataset tars: members grouped by key (name up to the first dot). Members with
    absolute paths or ``..`` are refused (never extracted); images are copied by content
    hash into the work dir, never to the member's own path."""
    tars = sorted(ctx.path.rglob("*.tar")) if ctx.path.is_dir() else [ctx.path]
    for tar_path in tars if ctx.piece is None else [tars[ctx.piece["tar"]]]:
        try:
            tf = tarfile.open(tar_path)
        except (tarfile.TarError, OSError) as e:
            yield read_row_exclusion(ctx.spec.name, tar_path.name, f"unreadable tar: {e}")
            continue
        groups: dict[str, dict[str, bytes]] = {}
        order: list[str] = []
        with tf:
            for m in tf:
                if not m.isfile():
                    continue
                if not _safe_member(m.name):
                    log.warning("%s: refused unsafe member %r", tar_path, m.name)
                    yield read_row_exclusion(ctx.spec.name, m.name, "unsafe archive member path",
                                         tar=tar_path.name)
                    continue
                base = PurePosixPath(m.name)
                key, _, ext = base.name.partition(".")
                key = str(base.parent / key)
                if key not in groups:
                    groups[key] = {}
                    order.append(key)
                groups[key][ext.lower()] = tf.extractfile(m).read()
        for key in order:
            parts = groups[key]
            rid = f"{tar_path.stem}/{key}"
            try:
                row: dict[str, Any] = {}
                if "json" in parts:
                    row = json.loads(parts["json"].decode("utf-8"))
                for ext in ("txt", "caption", "text"):
                    if ext in parts:
                        row.setdefault(ctx.spec.answer_field, parts[ext].decode("utf-8"))
                        row.setdefault(ctx.spec.question_field, "Describe this image.")
                imgs = [e for e in parts if "." + e.split(".")[-1] in IMAGE_EXTS]
                if imgs:
                    row["images"] = [ctx.save_bytes(parts[e], "." + e.split(".")[-1])
                                     for e in imgs]
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                yield read_row_exclusion(ctx.spec.name, rid, f"unreadable sample: {e}")
                continue
            yield from _rows_to_records(iter([(rid, row)]), ctx, ctx.path)


@register_reader("benchmark")
def _read_benchmark(ctx: ReaderContext) -> Iterator[Item]:
    """A benchmark layout the evaluation kit loads (``lingshu.eval.benchmarks``)."""
    from lingshu.eval import get_benchmark

    if not ctx.spec.benchmark:
        raise UserError(f"input {ctx.spec.name!r}: format benchmark needs benchmark: NAME")
    bench = get_benchmark(ctx.spec.benchmark)
    for s in bench.load(ctx.path, ctx.spec.split):
        yield ctx.record(s.id, conversation(sample_prompt(s), s.answer, list(s.images)),
                         modality=s.categories.get("modality"),
                         meta={"benchmark": s.benchmark, "categories": dict(s.categories)})


def sample_prompt(sample: Any) -> str:
    """Question (+ context, + lettered options) of an eval ``Sample`` as one text."""
    parts = [sample.context or "", sample.question]
    parts += [f"{k}. {v}" for k, v in sample.options.items()]
    return "\n".join(p for p in parts if p)


# the folder readers register themselves in READERS (kept apart: module size)
from lingshu.data.curate import folder_readers  # noqa: E402, F401
