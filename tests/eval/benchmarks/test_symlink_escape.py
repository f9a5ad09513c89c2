"""Issue 22, point 9: a symbolic link inside the benchmark folder whose target lies outside
it is never followed: an image *file* that is such a link, an image *folder* that is one, and
a link nested deeper (a link inside a linked folder, a chain of links) are all refused (one
line, never read, never sent). A benchmark folder that is itself a link still loads: the
user named that folder, and everything is compared with both sides resolved."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from lingshu.eval.benchmarks.vqa_rad import VqaRad

BUNDLED = Path(__file__).resolve().parents[3] / "data" / "benchmarks"
FOLDER = "VQA_RAD Image Folder"


def _copy_without_images(tmp_path: Path) -> Path:
    root = tmp_path / "bench" / "vqa-rad"
    root.mkdir(parents=True)
    for p in (BUNDLED / "vqa-rad").iterdir():
        if p.is_file():
            shutil.copy(p, root / p.name)
    return root


def _all_refused(samples, target: Path) -> None:
    assert samples and all(s.refused and s.images == () for s in samples)
    reason = samples[0].refused
    assert "symbolic link" in reason and str(target) in reason and "\n" not in reason


def test_a_link_to_an_outside_file_is_refused(tmp_path):
    root = tmp_path / "bench" / "vqa-rad"
    shutil.copytree(BUNDLED / "vqa-rad", root)
    before = VqaRad().load(tmp_path / "bench", "train")
    image = Path(before[0].images[0])
    linked = {s.id for s in before if s.images == (str(image),)}
    secret = tmp_path / "secret.png"
    secret.write_bytes(image.read_bytes())
    image.unlink()
    os.symlink(secret, image)
    after = VqaRad().load(tmp_path / "bench", "train")
    refused = {s.id: s.refused for s in after if s.refused}
    assert set(refused) == linked and len(after) == len(before)
    reason = refused[before[0].id]
    assert "symbolic link" in reason and str(secret) in reason and "\n" not in reason
    assert all(s.images == () for s in after if s.id in linked)


def test_a_linked_benchmark_folder_still_loads(tmp_path):
    (tmp_path / "bench").mkdir()
    os.symlink(BUNDLED / "vqa-rad", tmp_path / "bench" / "vqa-rad")
    samples = VqaRad().load(tmp_path / "bench", "train")
    assert samples and not any(s.refused for s in samples)


def test_an_image_folder_linked_to_the_outside_is_refused(tmp_path):
    root = _copy_without_images(tmp_path)
    os.symlink(BUNDLED / "vqa-rad" / FOLDER, root / FOLDER)
    _all_refused(VqaRad().load(tmp_path / "bench", "train"), BUNDLED / "vqa-rad" / FOLDER)


def test_a_link_nested_in_a_real_folder_is_refused(tmp_path):
    """The image folder is real and holds a folder link ``inner -> outside``; the question
    file names ``inner/<image>`` (a release may nest the link one level down)."""
    root = _copy_without_images(tmp_path)
    (root / FOLDER).mkdir()
    outside = tmp_path / "elsewhere"
    shutil.copytree(BUNDLED / "vqa-rad" / FOLDER, outside)
    (root / FOLDER / "inner").symlink_to(outside)
    questions = next(root.glob("*.json"))
    rows = json.loads(questions.read_text())
    for r in rows:
        r["image_name"] = "inner/" + r["image_name"]
    questions.write_text(json.dumps(rows))
    _all_refused(VqaRad().load(tmp_path / "bench", "train"), outside)


def test_a_chain_of_links_leaving_the_folder_is_refused(tmp_path):
    """FOLDER -> hop (inside the benchmark folder, itself a link) -> outside."""
    root = _copy_without_images(tmp_path)
    (root / "hop").symlink_to(BUNDLED / "vqa-rad" / FOLDER)
    (root / FOLDER).symlink_to("hop")
    _all_refused(VqaRad().load(tmp_path / "bench", "train"), BUNDLED / "vqa-rad" / FOLDER)


def test_links_that_stay_inside_the_folder_are_followed(tmp_path):
    """A release may link within itself (``images -> VQA_RAD Image Folder``): fine."""
    root = tmp_path / "bench" / "vqa-rad"
    root.mkdir(parents=True)
    for p in (BUNDLED / "vqa-rad").iterdir():
        if p.is_file():
            shutil.copy(p, root / p.name)
    shutil.copytree(BUNDLED / "vqa-rad" / FOLDER, root / "real")
    (root / FOLDER).symlink_to("real")
    samples = VqaRad().load(tmp_path / "bench", "train")
    assert samples and not any(s.refused for s in samples)
