"""Reading helpers shared by benchmark loaders: JSON/JSONL/CSV with errors that name the
file and row (bad JSON, bytes that are not UTF-8), Hugging Face exports (parquet,
``save_to_disk``, or the arrow files ``load_dataset`` leaves in its cache), embedded image
bytes.

Nothing is ever written into the data folder: embedded images go to the user's cache
directory (``image_cache_dir``), so a read-only data folder works.

Pickled files are never loaded. Archives are not extracted here (see ``safe_extract``):
users unpack releases themselves or through ``safe_extract``, which refuses path traversal.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lingshu.core.errors import DataError

def image_cache_dir() -> Path:
    """Where images embedded in Hugging Face exports are written once (by content hash):
    ``$LINGSHU_CACHE/images``, else ``~/.cache/lingshu/images``, beside the response
    cache."""
    from lingshu.eval.cache import default_cache_path

    return default_cache_path().parent / "images"


def _not_utf8(path: Path, unit: str) -> DataError:
    """The one-line error for a file with bytes that are not UTF-8, naming the line (or
    row) of the first one. Text-mode readers report offsets inside a buffer, so the file
    is decoded again as a whole to find it."""
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
        offset = 0
    except UnicodeDecodeError as e:
        offset = e.start
    line = data[:offset].count(b"\n") + 1
    where = f"{path}:{line}" if unit == "jsonl" else f"{path}: {unit} {line}"
    return DataError(
        f"{where}: not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset}); save the "
        "file as UTF-8 or re-download it from the benchmark's release"
    )


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
        raise _not_utf8(path, "line") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, record)``; a malformed line raises naming file and line."""
    try:
        fh = Path(path).open(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with fh:
        lines = enumerate(fh, start=1)
        while True:
            try:
                lineno, line = next(lines)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise _not_utf8(path, "jsonl") from None
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
        head = path.read_bytes().lstrip()[:1]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    if head == b"[":
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
        reader = csv.DictReader(fh) if header else csv.reader(fh)
        rows = enumerate(reader, start=2 if header else 1)
        while True:
            try:
                i, row = next(rows)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise _not_utf8(path, "row") from None
            yield i, row


def require(row: dict, fields: Iterable[str], where: str) -> None:
    """Raise naming ``where`` (file:row) and the missing field."""
    for f in fields:
        if f not in row or row[f] is None:
            raise DataError(f"{where}: missing field {f!r}; expected fields {sorted(fields)}")


# ---- Hugging Face exports ------------------------------------------------------------


def _is_saved_to_disk(root: Path) -> bool:
    """``save_to_disk`` writes ``state.json`` (a Dataset) or ``dataset_dict.json`` (a
    DatasetDict); the ``load_dataset`` cache has a ``dataset_info.json`` but neither."""
    return (root / "dataset_dict.json").exists() or (root / "state.json").exists()


def find_hf_export(root: Path) -> Path | None:
    """Return the folder holding a Hugging Face export under ``root``, if any.

    Recognised: ``save_to_disk`` folders (``state.json`` + ``*.arrow``, or a
    ``dataset_dict.json`` over split folders), parquet files (``*.parquet`` anywhere below
    ``root``, as ``snapshot_download`` of a dataset repo leaves them) and a copy of the
    ``datasets`` cache that ``load_dataset`` fills (``<builder>-<split>.arrow`` files in
    ``<owner>___<name>/<config>/<version>/<hash>/``).
    """
    root = Path(root)
    if _is_saved_to_disk(root):
        return root
    if any(root.rglob("*.parquet")) or any(root.rglob("*.arrow")):
        return root
    return None


_CACHE_ARROW = re.compile(r"^.+?-(?P<split>[^-]+)(?:-\d{5}-of-\d{5})?\.arrow$")
_EXPORT_HINT = (
    "export it with `datasets.load_dataset(...).save_to_disk(DIR)` or as parquet files "
    "`DIR/data/<split>-00000-of-00001.parquet`"
)


def _load_cache_arrow(root: Path, split: str | None) -> Any:
    """The split's table from a copy of the ``load_dataset`` cache (arrow stream files)."""
    import datasets

    for marker in ("dataset_dict.json", "state.json"):  # a save_to_disk folder further down
        found = sorted(root.rglob(marker), key=lambda f: len(f.parts))
        if found:
            return _load_saved(found[0].parent, split)
    files = sorted(root.rglob("*.arrow"))
    by_split: dict[str, list[Path]] = {}
    for f in files:
        m = _CACHE_ARROW.match(f.name)
        if m:
            by_split.setdefault(m.group("split"), []).append(f)
    if split is None and len(by_split) == 1:
        split = next(iter(by_split))
    chosen = by_split.get(split or "", [])
    if not chosen:
        raise DataError(
            f"{root}: a datasets cache folder with no <name>-{split}.arrow file (splits found: "
            f"{sorted(by_split) or 'none'}); {_EXPORT_HINT}"
        )
    folders = sorted({f.parent for f in chosen})
    if len(folders) > 1:
        raise DataError(
            f"{root}: several cached versions of split {split!r} ({', '.join(map(str, folders))}); "
            f"keep one, or {_EXPORT_HINT}"
        )
    try:
        parts = [datasets.Dataset.from_file(str(f)) for f in chosen]
    except Exception as e:  # noqa: BLE001  (pyarrow raises many types for a bad file)
        raise DataError(
            f"{chosen[0].parent}: cannot read the cached arrow files ({_first_line(e)}); "
            f"{_EXPORT_HINT}"
        ) from None
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _load_saved(root: Path, split: str | None) -> Any:
    import datasets

    try:
        ds = datasets.load_from_disk(str(root))
    except Exception as e:  # noqa: BLE001
        raise DataError(
            f"{root}: not a readable save_to_disk folder ({_first_line(e)}); {_EXPORT_HINT}"
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            if len(ds) != 1:
                raise DataError(f"{root}: export has splits {list(ds)}; choose one with --split")
            split = next(iter(ds))
        if split not in ds:
            raise DataError(f"{root}: export has no split {split!r}; it has {list(ds)}")
        ds = ds[split]
    return ds


def _check_parquet(files: list[Path]) -> None:
    """Open each file's footer first, so that a corrupt one is named (``datasets`` would
    raise a pyarrow traceback without the file name)."""
    import pyarrow.parquet as pq

    for f in files:
        try:
            pq.ParquetFile(str(f))
        except Exception as e:  # noqa: BLE001
            raise DataError(
                f"{f}: not a readable parquet file ({_first_line(e)}); re-download it or "
                "remove it"
            ) from None


def load_hf_rows(root: Path, split: str | None = None) -> list[dict]:
    """Rows of a Hugging Face export as dicts (images stay as ``{"bytes", "path"}`` dicts).

    ``split`` picks a split: the ``save_to_disk`` split name, or for parquet the files whose
    name or parent folder starts with it (``test-00000-of-00001.parquet``, ``test/``).
    """
    import datasets  # heavy import, only when an export is present

    root = Path(root)
    if _is_saved_to_disk(root):
        return _rows(_load_saved(root, split))
    files = sorted(root.rglob("*.parquet"))
    if not files and any(root.rglob("*.arrow")):
        return _rows(_load_cache_arrow(root, split))
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
    _check_parquet(files)
    try:
        ds = datasets.Dataset.from_parquet([str(f) for f in files])
    except Exception as e:  # noqa: BLE001
        raise DataError(
            f"{root}: cannot read the parquet files ({_first_line(e)}); re-download them"
        ) from None
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


def materialize_image(value: Any, where: str) -> str:
    """Turn an image cell (path string, or ``{"bytes", "path"}``) into a file path on disk.

    Bytes are written once to ``image_cache_dir()/<sha256>.<ext>`` (never into the data
    folder, which may be read-only) so later runs and other processes reuse them
    (write-then-rename: concurrent loaders are safe). A path is returned as it is; the
    caller resolves it against the benchmark folder.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("bytes"):
        data: bytes = value["bytes"]
        ext = Path(value.get("path") or "").suffix.lower() or _sniff_ext(data)
        digest = hashlib.sha256(data).hexdigest()
        out = image_cache_dir() / f"{digest}{ext}"
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
