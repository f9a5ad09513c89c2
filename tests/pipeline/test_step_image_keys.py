"""Issue 22: a step whose rows only reference images reruns when an image's bytes change,
even when the edit keeps the file's size and modification time (the raw step through the
manifest's images, each training stage through its data file's images)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lingshu.pipeline.raw import manifest_images
from lingshu.pipeline.steps import StepRunner, referenced_images


def _edit_keeping_size_and_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def _images(root: Path) -> list[Path]:
    # two images of the same name in different folders: both must count
    paths = [root / "a" / "x.png", root / "b" / "x.png"]
    for i, p in enumerate(paths):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"\x89PNG fake image " + bytes([i]) * 64)
    return paths


def test_rows_referencing_an_edited_image_rerun(tmp_path):
    imgs = _images(tmp_path)
    data = tmp_path / "stage.jsonl"
    rows = [{"messages": [{"role": "user", "content": [{"type": "image", "image": str(p)},
                                                        {"type": "text", "text": "organ?"}]},
                          {"role": "assistant", "content": [{"type": "text", "text": "head"}]}]}
            for p in imgs]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:1]))
    assert referenced_images(data) == [str(p) for p in imgs]  # each once, in file order

    steps = StepRunner(tmp_path / "run", log=lambda m: None)
    calls = []

    def run() -> object:
        return steps.run("stage", lambda d: calls.append(1) or {}, config={}, files=[data],
                         images=referenced_images(data))

    first, again = run(), run()
    assert again.cached and len(calls) == 1
    _edit_keeping_size_and_mtime(imgs[1])  # the second x.png: a name-keyed digest misses it
    edited = run()
    assert not edited.cached and len(calls) == 2 and edited.key not in (first.key,)
    # control: the data file's own digest did not change; only the image content did
    steps_without = StepRunner(tmp_path / "run2", log=lambda m: None)
    k1 = steps_without.run("s", lambda d: {}, config={}, files=[data]).key
    _edit_keeping_size_and_mtime(imgs[0])
    assert steps_without.run("s", lambda d: {}, config={}, files=[data]).key == k1


def test_the_raw_manifest_names_its_images(tmp_path):
    imgs = _images(tmp_path)
    manifest = tmp_path / "m" / "images.jsonl"
    manifest.parent.mkdir()
    rows = [{"id": "1", "source": "s", "split": "train", "path": "../a/x.png"},
            {"id": "2", "source": "s", "split": "heldout", "path": "../b/x.png"},
            {"id": "3", "source": "p", "split": "train", "package": "pydicom", "name": "CT_small.dcm"}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    assert manifest_images(manifest) == [p.resolve() for p in imgs]
