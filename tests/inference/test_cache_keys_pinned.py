"""Response-cache keys computed before the inference layer was unified, pinned.

The evaluation cache is keyed by the backend's fingerprint, the messages and
``GenerationParams.to_dict()``. Moving backends and types into ``lingshu.inference`` and
routing them through one engine must not change any of these, or every existing
``responses.sqlite`` would silently stop hitting. The hex values below were computed with
the code as of commit 2b4354a (before issue 8), on the same inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from lingshu.eval.cache import cache_key
from lingshu.inference import GenerationParams, get_backend


def _model_dir(root: Path) -> Path:
    d = root / "model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (d / "model.safetensors").write_bytes(bytes(range(256)) * 8)
    (d / "tokenizer.json").write_text('{"version": "1.0"}')
    return d


def _key(fingerprint: dict, image: Path) -> str:
    return cache_key(
        fingerprint=fingerprint,
        benchmark="vqa_rad",
        benchmark_version="1",
        profile="medevalkit",
        profile_version="2",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": str(image)},
                    {"type": "text", "text": "Is there a fracture?"},
                ],
            }
        ],
        generation=GenerationParams(max_new_tokens=32, stop=("\n\n",)).to_dict(),
        sample_id="vqa_rad/0001",
    )


def test_generation_params_serialise_as_before():
    assert GenerationParams().to_dict() == {
        "max_new_tokens": 256, "temperature": 0.0, "top_p": 1.0, "seed": 0, "stop": [],
    }  # fmt: skip


def test_hf_fingerprint_and_cache_key_are_unchanged(tmp_path):
    image = tmp_path / "x.png"
    image.write_bytes(b"\x89PNG" + b"\0" * 96)
    backend = get_backend("hf", model=str(_model_dir(tmp_path)), dtype="float32", device="cpu")
    fp = backend.fingerprint()
    assert {k: v for k, v in fp.items() if k != "content_sha256"} == {
        "backend": "hf",
        "fingerprint_version": fp["fingerprint_version"],
        "model_type": "llama",
        "dtype": "float32",
        "min_pixels": None,
        "max_pixels": None,
    }
    # The key depends on the image path (tmp_path varies), so pin it on a fixed fingerprint
    # and a path-free message too.
    assert fp == PINNED_HF_FINGERPRINT
    fixed = cache_key(
        fingerprint=fp,
        benchmark="medmcqa",
        benchmark_version="1",
        profile="medevalkit",
        profile_version="2",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Which nerve? A. x"}]}],
        generation=GenerationParams(max_new_tokens=32, stop=("\n\n",)).to_dict(),
        sample_id="medmcqa/0001",
    )
    assert fixed == PINNED_TEXT_KEY
    assert _key(fp, image) != fixed  # images are part of the key


def test_image_key_holds_the_content_hash(tmp_path, monkeypatch):
    """Issue 22 changed the image part of the key on purpose: it held the file's size,
    now the SHA-256 of its bytes (an image edited in place keeping its size must miss).
    Entries cached on images before that are asked again once; text-only keys (pinned
    above) did not change. Pinned on a relative path so the key does not depend on
    tmp_path; the value was computed with this code."""
    monkeypatch.chdir(tmp_path)
    Path("x.png").write_bytes(b"\x89PNG" + b"\0" * 96)
    assert _key(PINNED_DUMMY_FINGERPRINT, Path("x.png")) == PINNED_IMAGE_KEY
    Path("x.png").write_bytes(b"\x89PNG" + b"\1" * 96)  # same size, other bytes
    assert _key(PINNED_DUMMY_FINGERPRINT, Path("x.png")) != PINNED_IMAGE_KEY


def test_dummy_fingerprint_is_unchanged():
    assert get_backend("dummy").fingerprint() == PINNED_DUMMY_FINGERPRINT


PINNED_HF_FINGERPRINT = {
    "backend": "hf",
    "fingerprint_version": 1,
    "model_type": "llama",
    "content_sha256": "14ef92e11cba680680b059ae1d5bd4d363608ef2f0dc94fb71baa2630c91b6c9",
    "dtype": "float32",
    "min_pixels": None,
    "max_pixels": None,
}
PINNED_TEXT_KEY = "9abfaef2ecd434ac92389978a77bb70b93c848d806726bb604b3b6c04f9bcf2f"
PINNED_DUMMY_FINGERPRINT = {"backend": "dummy", "version": "1"}
PINNED_IMAGE_KEY = "d67cb836be022d0c9e99008d0d05c37b4587fc2139b9801cd1870b8ea3eaf487"
# before issue 22 (size in the key) the same inputs gave 6fddc583a56b91c0c49643a7cc56b6b7...;
# the change is deliberate (see test_image_key_holds_the_content_hash)
