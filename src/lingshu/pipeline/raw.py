"""The raw step: the manifest's labelled images as conversations curation can read.

Each image becomes one JSONL row per source (``RUN/raw/<source>.jsonl``): a caption
conversation written from its labels ("An MRI image of the head."), with ``organ`` and
``modality`` as columns that curation's readers keep (the synthesis op builds the multiple
choice from them). Bundled images are referenced by absolute path; package samples (DICOM,
NIfTI slices, scikit-image photographs) are decoded from the installed package with the
model layer's medical-image readers and written once as PNG under ``RUN/raw/images/``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from lingshu.core.errors import UserError
from lingshu.core.io import atomic_write_text
from lingshu.inference import conversation

CAPTION_PROMPT = "Describe this image briefly."


def caption(organ: str | None, modality: str | None) -> str:
    """A one-sentence caption from labels only (nothing the labels do not say)."""
    kind = f"{'An' if (modality or 'x')[0].upper() in 'AEIOUMX' else 'A'} {modality} image" \
        if modality else "A medical image"
    return f"{kind} of the {organ}." if organ else f"{kind}."


def package_file(package: str, name: str) -> Path | None:
    """Path of a sample file that an installed package ships (None for in-memory arrays)."""
    if package == "pydicom":
        from pydicom.data import get_testdata_file

        found = get_testdata_file(name, download=False)
        return Path(found) if found else None
    if package == "nibabel":
        import nibabel

        return Path(nibabel.__file__).parent / "tests" / "data" / name
    return None


def decode_package_image(row: dict[str, Any], out_dir: Path) -> Path:
    """Decode a package sample to PNG under ``out_dir`` (once) and return its path."""
    from PIL import Image

    dst = out_dir / (row["id"].replace("/", "__") + ".png")
    if dst.is_file():
        return dst
    package, name, opts = row["package"], row["file"], row.get("options") or {}
    if package == "skimage":
        import skimage.data

        img = Image.fromarray(getattr(skimage.data, name)())
    else:
        from lingshu.models import load_medical_image

        path = package_file(package, name)
        if path is None or not path.is_file():
            raise UserError(f"raw manifest row {row['id']}: {package} does not ship {name} in "
                            "this installation; reinstall it or drop the row")
        img = load_medical_image(path, **opts)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp.png")
    img.convert("RGB").save(tmp)
    tmp.replace(dst)
    return dst


def manifest_images(manifest: Path) -> list[Path]:
    """The image files the manifest's rows name (``path``, against the manifest's folder):
    the raw step's key hashes their content (issue 22). Package images are pinned with the
    package's version; an unreadable manifest names nothing here and fails in ``build_raw``."""
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in lines:
        try:
            row = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue  # build_raw names the row
        if isinstance(row, dict) and isinstance(row.get("path"), str):
            out.append((manifest.parent / row["path"]).resolve())
    return out


def build_raw(manifest: Path, text_files: list[Path], out_dir: Path, *,
              limit_per_source: int | None, include_heldout: bool) -> dict[str, Any]:
    """Write ``out_dir/<source>.jsonl`` (+ ``text.jsonl``); return the file list and counts."""
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line]
    by_source: dict[str, list[dict]] = defaultdict(list)
    for i, row in enumerate(rows, 1):
        for f in ("id", "source", "split"):
            if f not in row:
                raise UserError(f"{manifest}:{i}: missing field {f!r}")
        if row["split"] == "heldout" and not include_heldout:
            continue
        if limit_per_source and len(by_source[row["source"]]) >= limit_per_source:
            continue
        if "package" in row:
            image = decode_package_image(row, out_dir / "images")
        else:
            image = (manifest.parent / row["path"]).resolve()
            if not image.is_file():
                raise UserError(f"{manifest}:{i}: image {image} not found")
        conv = {
            "id": row["id"],
            "messages": conversation(
                CAPTION_PROMPT, caption(row.get("organ"), row.get("modality")), [str(image)]
            ),
            "license": row.get("license", "not stated"),
        }
        if row.get("organ"):
            conv["organ"] = row["organ"]
        if row.get("modality"):
            conv["modality"] = row["modality"]
        by_source[row["source"]].append(conv)
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    for source, convs in sorted(by_source.items()):
        path = out_dir / f"{source}.jsonl"
        atomic_write_text(path, "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in convs))
        files[source] = str(path)
        counts[source] = len(convs)
    text_rows: list[str] = []
    for tf in text_files:
        text_rows.extend(line + "\n" for line in tf.read_text(encoding="utf-8").splitlines() if line)
    if text_rows:
        atomic_write_text(out_dir / "text.jsonl", "".join(text_rows))
        files["text"] = str(out_dir / "text.jsonl")
        counts["text"] = len(text_rows)
    return {"files": files, "counts": counts}
