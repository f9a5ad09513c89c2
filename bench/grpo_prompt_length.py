"""GRPO data check: prompt length from the image header against running the processor.

``build_grpo_dataset`` skips rows whose prompt exceeds ``max_prompt_length`` tokens (TRL
1.16 no longer truncates). For Qwen2-VL-family processors it counts image tokens from the
image size alone (``lingshu.train.grpo.dataset._prompt_tokens``); the baseline runs the
processor on the pixels of every image, as a plain implementation would. Both run here on
the same rows (the tiny Qwen2.5-VL's processor at Qwen2.5-VL's default pixel limits,
random 640x512 PNGs); the script checks that the counts agree and prints both times and
their ratio.

    python bench/grpo_prompt_length.py          # 200 rows
    python bench/grpo_prompt_length.py --n 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="rows (one image each)")
    args = ap.parse_args()

    import numpy as np
    from PIL import Image
    from transformers import AutoProcessor

    from lingshu.models import build_tiny_qwen2_5_vl
    from lingshu.train.grpo.dataset import _prompt_tokens

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        processor = AutoProcessor.from_pretrained(build_tiny_qwen2_5_vl(tmp / "tiny"))
        # Qwen2.5-VL's published limits: 3136 .. 12845056 pixels (up to 16384 image tokens).
        processor.image_processor.size = {"shortest_edge": 3136, "longest_edge": 12845056}
        rng = np.random.default_rng(0)
        records = []
        for i in range(args.n):
            path = tmp / f"{i}.png"
            Image.fromarray(rng.integers(0, 255, (512, 640, 3), dtype=np.uint8)).save(path)
            records.append({"prompt": [{"role": "user", "content": f"Question {i}: which organ?"}],
                            "images": [str(path)]})

        def baseline(record: dict) -> int:
            content = [{"type": "image"}, {"type": "text", "text": record["prompt"][0]["content"]}]
            text = processor.apply_chat_template([{"role": "user", "content": content}],
                                                 tokenize=False, add_generation_prompt=True)
            with Image.open(record["images"][0]) as im:
                image = im.convert("RGB")
            return len(processor(text=[text], images=[image])["input_ids"][0])

        t0 = time.perf_counter()
        ours = [_prompt_tokens(processor, r) for r in records]
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        base = [baseline(r) for r in records]
        t_base = time.perf_counter() - t0
    same = ours == base
    print(f"rows: {args.n}, tokens per prompt: {ours[0]}, identical counts: {same}")
    print(f"header count: {t_ours:.2f} s ({1000 * t_ours / args.n:.1f} ms/row)")
    print(f"processor:    {t_base:.2f} s ({1000 * t_base / args.n:.1f} ms/row)")
    print(f"ratio: {t_base / t_ours:.1f}x")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
