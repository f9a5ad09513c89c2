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


def test_image_and_text_rows_in_one_stage_are_one_clear_error(tmp_path: Path) -> None:
    import pytest
    from PIL import Image

    from lingshu.core.errors import UserError
    from lingshu.train.grpo.config import GRPOStageConfig
    from lingshu.train.grpo.dataset import build_grpo_dataset

    from grpo_helpers import qa_row, write_rows

    (tmp_path / "img").mkdir()
    Image.new("RGB", (56, 56), (40, 90, 160)).save(tmp_path / "img" / "0.png")
    data = write_rows(tmp_path / "rl.jsonl", [qa_row(0, image="img/0.png"), qa_row(1), qa_row(2)])
    def config(path: Path) -> GRPOStageConfig:
        return GRPOStageConfig(data=[{"path": str(path)}], num_generations=2, global_batch=1,
                               rollout_batch=1, per_device_batch=2, max_steps=1)

    with pytest.raises(UserError) as err:
        build_grpo_dataset(config(data), seed=0)
    msg = str(err.value)
    assert "\n" not in msg and "1 RL rows have images and 2 do not (first: q1)" in msg
    assert "separate GRPO stages" in msg
    # all text, or all images: fine
    only_text = write_rows(tmp_path / "t.jsonl", [qa_row(1), qa_row(2)])
    built = build_grpo_dataset(config(only_text), seed=0)
    assert built.kept == 2
