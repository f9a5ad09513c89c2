"""Reading helpers shared by benchmark loaders: JSON/JSONL/CSV with errors that name the
file and row, Hugging Face exports (parquet or ``save_to_disk``), embedded image bytes.

Pickled files are never loaded. Archives are not extracted here (see ``safe_extract``):
users unpack releases themselves or through ``safe_extract``, which refuses path traversal.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError

IMAGE_CACHE_DIRNAME = ".lingshu_images"
"""Images embedded in parquet/arrow exports are written once under ``<root>/<this>/``."""


def read_json(path: Path) -> Any:
    try:
        with Path(path).open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
            "re-download the file from the benchmark's release"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; expected the release's JSON file") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, record)``; a malformed line raises naming file and line."""
    try:
        fh = Path(path).open(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: not a JSON object ({e.msg}); expected one JSON record "
                    "per line"
                ) from None
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
            yield lineno, rec


def read_json_or_jsonl(path: Path) -> list[dict]:
    """Some releases call JSON Lines ``.json`` (MedMCQA's ``dev.json``): accept both."""
    path = Path(path)
    try:
        head = path.read_text(encoding="utf-8").lstrip()[:1]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    if head == "[":
        data = read_json(path)
        return [r for r in data]
    return [rec for _, rec in iter_jsonl(path)]


def iter_csv(path: Path, header: bool = True) -> Iterator[tuple[int, list[str] | dict[str, str]]]:
    """Yield ``(row_number, row)`` (1-based, counting the header line when present)."""
    try:
        fh = Path(path).open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with fh:
        if header:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                yield i, row
        else:
            for i, row in enumerate(csv.reader(fh), start=1):
                yield i, row


def require(row: dict, fields: Iterable[str], where: str) -> None:
    """Raise naming ``where`` (file:row) and the missing field."""
    for f in fields:
        if f not in row or row[f] is None:
            raise DataError(f"{where}: missing field {f!r}; expected fields {sorted(fields)}")


# ---- Hugging Face exports ------------------------------------------------------------


def find_hf_export(root: Path) -> Path | None:
    """Return the folder holding a Hugging Face export under ``root``, if any.

    Recognised: ``save_to_disk`` folders (``dataset_info.json`` + ``*.arrow``, or a
    ``dataset_dict.json`` over split folders) and parquet files (``*.parquet`` anywhere
    below ``root``, as ``snapshot_download`` of a dataset repo leaves them).
    """
    root = Path(root)
    if (root / "dataset_dict.json").exists() or (root / "dataset_info.json").exists():
        return root
    if any(root.rglob("*.parquet")):
        return root
    return None


def load_hf_rows(root: Path, split: str | None = None) -> list[dict]:
    """Rows of a Hugging Face export as dicts (images stay as ``{"bytes", "path"}`` dicts).

    ``split`` picks a split: the ``save_to_disk`` split name, or for parquet the files whose
    name or parent folder starts with it (``test-00000-of-00001.parquet``, ``test/``).
    """
    import datasets  # heavy import, only when an export is present

    root = Path(root)
    if (root / "dataset_dict.json").exists() or (root / "dataset_info.json").exists():
        ds = datasets.load_from_disk(str(root))
        if isinstance(ds, datasets.DatasetDict):
            if split is None:
                if len(ds) != 1:
                    raise DataError(f"{root}: export has splits {list(ds)}; choose one with --split")
                split = next(iter(ds))
            if split not in ds:
                raise DataError(f"{root}: export has no split {split!r}; it has {list(ds)}")
            ds = ds[split]
        return _rows(ds)
    files = sorted(root.rglob("*.parquet"))
    if split is not None:
        chosen = [
            f
            for f in files
            if f.name.startswith(split) or any(p.name == split for p in f.relative_to(root).parents)
        ]
        if not chosen:
            names = ", ".join(str(f.relative_to(root)) for f in files)
            raise DataError(f"{root}: no parquet file for split {split!r} among: {names}")
        files = chosen
    if not files:
        raise DataError(f"{root}: no parquet files found")
    ds = datasets.Dataset.from_parquet([str(f) for f in files])
    return _rows(ds)


def _rows(ds: Any) -> list[dict]:
    import datasets

    # Keep images as raw bytes: decoding every image up front is slow and memory hungry,
    # and re-encoding decoded pixels would change the files the model sees.
    for col, feat in ds.features.items():
        if isinstance(feat, datasets.Image):
            ds = ds.cast_column(col, datasets.Image(decode=False))
        elif isinstance(feat, (datasets.List, datasets.Sequence)) and isinstance(
            feat.feature, datasets.Image
        ):
            ds = ds.cast_column(col, datasets.List(datasets.Image(decode=False)))
    return [dict(r) for r in ds]


def materialize_image(value: Any, cache_root: Path, where: str) -> str:
    """Turn an image cell (path string, or ``{"bytes", "path"}``) into a file path on disk.

    Bytes are written once to ``cache_root/.lingshu_images/<sha256>.<ext>`` so later runs
    and other processes reuse them (write-then-rename: concurrent loaders are safe).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("bytes"):
        data: bytes = value["bytes"]
        ext = Path(value.get("path") or "").suffix.lower() or _sniff_ext(data)
        digest = hashlib.sha256(data).hexdigest()
        out = Path(cache_root) / IMAGE_CACHE_DIRNAME / f"{digest}{ext}"
        if not out.exists():
            from lingshu.core.io import atomic_write_bytes

            atomic_write_bytes(out, data)
        return str(out)
    if isinstance(value, dict) and value.get("path"):
        return str(value["path"])
    raise DataError(f"{where}: image cell is empty or not an image (got {type(value).__name__})")


def _sniff_ext(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:2] == b"BM":
        return ".bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    return ".img"


# ---- archives ---------------------------------------------------------------------------


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a zip or tar archive, refusing members that would land outside ``dest``
    (absolute paths, ``..``, links pointing out)."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    base = dest.resolve()

    def check(name: str) -> None:
        target = (base / name).resolve()
        if target != base and base not in target.parents:
            raise DataError(f"{archive}: member {name!r} would be written outside {dest}; refusing")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for n in zf.namelist():
                check(n)
            zf.extractall(dest)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for m in tf.getmembers():
                check(m.name)
                if m.issym() or m.islnk():
                    check(str(Path(m.name).parent / m.linkname))
            tf.extractall(dest, filter="data")
        return
    raise DataError(f"{archive}: not a zip or tar archive")
