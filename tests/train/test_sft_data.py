"""SFT data: the three conversation styles, assistant-only labels, bad samples excluded."""

from __future__ import annotations


import pytest

from lingshu.train.config import DataSource
from lingshu.train.data.sft import (
    IGNORE,
    BadSample,
    assistant_labels,
    detect_style,
    fit_pixels,
    load_sft_data,
    normalise,
)

from _train_helpers import make_images, qwen_row, write_jsonl


def test_assistant_labels_hand_worked():
    # tokens: 1=<im_start>, 2=assistant, 3=\n, 9=<im_end>; header = [1, 2, 3]
    ids = [1, 7, 3, 5, 9, 4, 1, 2, 3, 6, 6, 9, 4, 1, 7, 3, 8, 9, 1, 2, 3, 5, 9, 4]
    want = [IGNORE] * 9 + [6, 6, 9] + [IGNORE] * 9 + [5, 9, IGNORE]
    assert assistant_labels(ids, [1, 2, 3], 9) == want


@pytest.fixture(scope="module")
def processor(tiny_vl_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_vl_dir)


def _decoded_targets(processor, enc) -> str:
    ids = [t for t, lab in zip(enc.input_ids.tolist(), enc.labels.tolist()) if lab != IGNORE]
    return processor.tokenizer.decode(ids)


STYLE_ROWS = {
    "qwen": {"id": "q", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image", "image": "images/a.png"}, {"type": "text", "text": "Organ?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Lung."}]},
        {"role": "user", "content": [{"type": "text", "text": "Side?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Left."}]}]},
    "llava": {"id": "l", "image": "images/a.png", "conversations": [
        {"from": "human", "value": "<image>\nOrgan?"}, {"from": "gpt", "value": "Lung."},
        {"from": "human", "value": "Side?"}, {"from": "gpt", "value": "Left."}]},
    "sharegpt": {"id": "s", "images": ["images/a.png"], "messages": [
        {"role": "user", "content": "<image>Organ?"}, {"role": "assistant", "content": "Lung."},
        {"role": "user", "content": "Side?"}, {"role": "assistant", "content": "Left."}]},
}


@pytest.mark.parametrize("style", list(STYLE_ROWS))
def test_each_style_gives_assistant_only_labels(style, processor, tmp_path):
    make_images(tmp_path / "images")
    row = STYLE_ROWS[style]
    assert detect_style(row) == style
    path = write_jsonl(tmp_path / "d.jsonl", [row])
    enc, excl = load_sft_data([DataSource(path=path)], processor, max_length=512, min_pixels=3136,
                              max_pixels=12544, seed=0)
    assert excl.total == 0 and len(enc) == 1
    e = enc[0]
    assert _decoded_targets(processor, e) == "Lung.<|im_end|>Left.<|im_end|>"
    assert e.image_grid_thw is not None and e.image_grid_thw.shape == (1, 3)
    n_img = int((e.input_ids == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum())
    assert n_img == int(e.image_grid_thw.prod()) // 4  # one token per 2x2 merged patch
    assert (e.labels[e.mm_token_type_ids == 1] == IGNORE).all()


def test_text_only_row(processor, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [qwen_row(0, None, "Define fever.", "High body temperature.")])
    enc, _ = load_sft_data([DataSource(path=path)], processor, max_length=512, min_pixels=3136,
                           max_pixels=12544, seed=0)
    assert enc[0].pixel_values is None
    assert _decoded_targets(processor, enc[0]) == "High body temperature.<|im_end|>"


def test_bad_samples_are_counted_not_fatal(processor, tmp_path):
    make_images(tmp_path / "images")
    (tmp_path / "images" / "corrupt.png").write_bytes(b"\x89PNG not really")
    rows = [
        qwen_row(0, "images/a.png", "ok?", "fine"),
        "{not json",
        qwen_row(1, "images/none.png", "q", "a"),
        qwen_row(2, "images/corrupt.png", "q", "a"),
        {"id": "e", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]},
        {"id": "n", "messages": [{"role": "user", "content": "only a question"}]},
        {"id": "w", "prompt": "wrong schema"},
        qwen_row(3, None, "long " * 400, "x"),
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    enc, excl = load_sft_data([DataSource(path=path)], processor, max_length=256, min_pixels=3136,
                              max_pixels=12544, seed=0)
    assert len(enc) == 1
    assert dict(excl.counts) == {"bad_json": 1, "missing_image": 1, "corrupt_image": 1, "empty_turn": 1,
                                 "no_assistant": 1, "schema": 1, "too_long": 1}
    assert [r["line"] for r in excl.rows] == [2, 3, 4, 5, 6, 7, 8]


def test_ratio_mixes_files(processor, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [qwen_row(i, None, f"a{i}", "x") for i in range(4)])
    b = write_jsonl(tmp_path / "b.jsonl", [qwen_row(i, None, f"b{i}", "y") for i in range(4)])
    enc, _ = load_sft_data([DataSource(path=a, ratio=0.5), DataSource(path=b, ratio=2.0)], processor,
                           max_length=512, min_pixels=3136, max_pixels=12544, seed=0)
    assert len(enc) == 2 + 8


def test_llava_placeholder_count_checked(tmp_path):
    row = {"image": ["x.png"], "conversations": [{"from": "human", "value": "<image><image>"},
                                                 {"from": "gpt", "value": "a"}]}
    with pytest.raises(BadSample) as e:
        normalise(row, tmp_path)
    assert e.value.reason == "schema"


@pytest.mark.parametrize("w,h,lo,hi", [(1000, 800, 3136, 12544), (20, 30, 3136, 12544), (100, 100, 3136, 12544)])
def test_fit_pixels_keeps_area_in_bounds(w, h, lo, hi):
    nw, nh = fit_pixels(w, h, lo, hi)
    assert nw * nh <= hi * 1.0001 and (nw + 1) * (nh + 1) >= lo
    assert abs(nw / nh - w / h) < 0.1
