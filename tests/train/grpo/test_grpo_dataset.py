"""Building the trainer's dataset: prompt lengths counted as the processor counts them."""

from __future__ import annotations

from pathlib import Path


def test_prompt_length_from_image_size_equals_the_processor(tmp_path: Path) -> None:
    """The fast count (image header only) gives the processor's own token count."""
    from PIL import Image
    from transformers import AutoProcessor

    from lingshu.models import build_tiny_qwen2_5_vl
    from lingshu.train.grpo.dataset import _prompt_tokens

    model = build_tiny_qwen2_5_vl(tmp_path / "tiny")
    processor = AutoProcessor.from_pretrained(model)
    for i, (w, h) in enumerate([(56, 56), (300, 120), (90, 700)]):
        Image.new("RGB", (w, h), (i * 40, 20, 90)).save(tmp_path / f"{i}.png")
    for images in (["0.png"], ["1.png", "2.png"], []):
        paths = [str(tmp_path / p) for p in images]
        record = {"prompt": [{"role": "user", "content": "Which organ is shown?"}],
                  "images": paths}
        content = [{"type": "image"} for _ in paths] + [
            {"type": "text", "text": "Which organ is shown?"}]
        text = processor.apply_chat_template([{"role": "user", "content": content}],
                                             tokenize=False, add_generation_prompt=True)
        pil = [Image.open(p).convert("RGB") for p in paths]
        full = processor(text=[text], images=pil or None)["input_ids"][0]
        assert _prompt_tokens(processor, record) == len(full), images
