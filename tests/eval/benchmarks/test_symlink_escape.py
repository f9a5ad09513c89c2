"""Issue 22, point 9: an image inside the benchmark folder that is a symbolic link to a
file outside it is refused (one line, never read, never sent); a benchmark folder that is
itself a link still loads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lingshu.eval.benchmarks.vqa_rad import VqaRad

BUNDLED = Path(__file__).resolve().parents[3] / "data" / "benchmarks"
FOLDER = "VQA_RAD Image Folder"


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


def test_an_image_folder_linked_in_by_the_user_still_loads(tmp_path):
    root = tmp_path / "bench" / "vqa-rad"
    root.mkdir(parents=True)
    for p in (BUNDLED / "vqa-rad").iterdir():
        if p.is_file():
            shutil.copy(p, root / p.name)
    os.symlink(BUNDLED / "vqa-rad" / FOLDER, root / FOLDER)
    samples = VqaRad().load(tmp_path / "bench", "train")
    assert samples and not any(s.refused for s in samples)
