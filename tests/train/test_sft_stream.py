"""Streaming SFT data (issue 19): the length index equals what encoding gives, the lazy
dataset holds the eager loader's samples and exclusions, is cached by content, shards by
rank, reads JSONL, parquet and WebDataset alike, and workers change nothing."""

from __future__ import annotations

import json
import os
import tarfile

import pytest

from lingshu.train.config import DataSource
from lingshu.train.data.lazy import open_sft_data
from lingshu.train.data.lengths import LengthCounter
from lingshu.train.data.sft import encode, load_sft_data, normalise

from _train_helpers import make_images, qwen_row, write_jsonl

torch = pytest.importorskip("torch")

PIX = {"min_pixels": 3136, "max_pixels": 12544}


@pytest.fixture(scope="module")
def processor(tiny_vl_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_vl_dir)


def _rows(n: int = 12) -> list[dict]:
    """Image (two sizes, two images in one row) and text-only rows of different lengths,
    in the three conversation styles."""
    rows = []
    for i in range(n):
        img = ["images/a.png", "images/b.png", None, "images/big.png"][i % 4]
        rows.append(qwen_row(i, img, f"Question {i}?" + " more" * (i % 5), f"Answer {i}." + " x" * (i % 3)))
    rows.append({"id": "two", "messages": [
        {"role": "user", "content": [{"type": "image", "image": "images/a.png"},
                                     {"type": "image", "image": "images/big.png"}, {"type": "text", "text": "Compare."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Same organ."}]}]})
    rows.append({"id": "llava", "image": "images/b.png", "conversations": [
        {"from": "human", "value": "<image>\nOrgan?"}, {"from": "gpt", "value": "Lung."}]})
    rows.append({"id": "sharegpt", "images": ["images/a.png"], "messages": [
        {"role": "user", "content": "<image>Organ?"}, {"role": "assistant", "content": "Heart."}]})
    return rows


def _images(folder):
    import numpy as np
    from PIL import Image

    make_images(folder)
    arr = np.random.default_rng(1).integers(0, 255, size=(300, 200, 3), dtype=np.uint8)
    Image.fromarray(arr).save(folder / "big.png")  # resized down by max_pixels


def test_lengths_from_headers_equal_encoding(processor, tmp_path):
    _images(tmp_path / "images")
    convs = [normalise(r, tmp_path) for r in _rows()]
    got = LengthCounter(processor, **PIX).measure(convs)
    want = [(e.length, e.n_label_tokens) for e in (encode(processor, c, max_length=4096, **PIX) for c in convs)]
    assert got == want
    assert len({n for n, _ in want}) > 8  # lengths really differ (images of several grids)
    # control: the processor's default pixel limits instead of the stage's count other image tokens
    wrong = LengthCounter(processor, min_pixels=3136, max_pixels=3136 * 2).measure(convs)
    assert wrong != want


def _bad_rows(tmp_path):
    (tmp_path / "images" / "corrupt.png").write_bytes(b"\x89PNG not really")
    return _rows(6) + [
        "{not json",
        qwen_row(90, "images/none.png", "q", "a"),
        qwen_row(91, "images/corrupt.png", "q", "a"),
        {"id": "e", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]},
        {"id": "n", "messages": [{"role": "user", "content": "only a question"}]},
        {"id": "w", "prompt": "wrong schema"},
        qwen_row(92, None, "long " * 400, "x"),
    ]


def test_lazy_holds_the_eager_samples_and_exclusions(processor, tmp_path):
    _images(tmp_path / "images")
    a = write_jsonl(tmp_path / "a.jsonl", _bad_rows(tmp_path))
    with (tmp_path / "a.jsonl").open("ab") as fh:  # a Latin-1 line: excluded as not UTF-8
        fh.write(b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n\n')
    b = write_jsonl(tmp_path / "b.jsonl", _rows(7))
    sources = [DataSource(path=a, ratio=1.5), DataSource(path=b, ratio=0.6)]
    eager, e_excl = load_sft_data(sources, processor, max_length=256, seed=3, **PIX)
    lazy, l_excl = open_sft_data(sources, processor, max_length=256, seed=3, **PIX)
    assert len(lazy) == len(eager) > 10
    for i, e in enumerate(eager):
        got = lazy.encoded(i)
        assert (got.id, lazy[i].length, lazy[i].n_label_tokens) == (e.id, e.length, e.n_label_tokens)
        assert torch.equal(got.input_ids, e.input_ids) and torch.equal(got.labels, e.labels)
        assert (got.pixel_values is None) == (e.pixel_values is None)
        if e.pixel_values is not None:
            assert torch.equal(got.pixel_values, e.pixel_values)
    assert dict(l_excl.counts) == dict(e_excl.counts)
    assert set(e_excl.counts) == {"bad_json", "missing_image", "corrupt_image", "empty_turn", "no_assistant",
                                  "schema", "too_long", "not_utf8"}
    key = [(r["file"], r["line"], r["id"], r["reason"]) for r in e_excl.rows]
    assert [(r["file"], r["line"], r["id"], r["reason"]) for r in l_excl.rows] == key


def test_length_cache_follows_the_file_content(processor, tmp_path):
    _images(tmp_path / "images")
    path = write_jsonl(tmp_path / "d.jsonl", [qwen_row(0, None, "Define fever.", "Hot.")])
    cache = tmp_path / "cache"
    first, _ = open_sft_data([DataSource(path=path)], processor, max_length=256, seed=0, cache_dir=cache, **PIX)
    (entry,) = list(cache.iterdir())
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # atomic: no temp left
    again, _ = open_sft_data([DataSource(path=path)], processor, max_length=256, seed=0, cache_dir=cache, **PIX)
    assert list(cache.iterdir()) == [entry] and again[0] == first[0]
    # the same size and modification time, other bytes: "Hot." -> "h,o," tokenizes longer
    st = os.stat(path)
    path.write_text(path.read_text().replace("Hot.", "h,o,"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns
    changed, _ = open_sft_data([DataSource(path=path)], processor, max_length=256, seed=0, cache_dir=cache, **PIX)
    assert len(list(cache.iterdir())) == 2  # a new key, so a new index
    enc = changed.encoded(0)  # would raise had the stale lengths been kept
    assert changed[0].n_label_tokens == enc.n_label_tokens > first[0].n_label_tokens
    # a different pixel limit is another key too
    open_sft_data([DataSource(path=path)], processor, max_length=256, seed=0, cache_dir=cache,
                  min_pixels=3136, max_pixels=6272)
    assert len(list(cache.iterdir())) == 3


def _write_parquet(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=4)


def _write_tar(path, rows, folder):
    """Each row as ``sampleN.json``; its images inside the tar as ``sampleN.K.png``, the row
    naming them by extension (``K.png``); a caption member that is not a row."""
    import io

    def add(tf, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w") as tf:
        for i, r in enumerate(rows):
            r = json.loads(json.dumps(r))
            k = 0
            for m in r["messages"]:
                for part in m["content"] if isinstance(m["content"], list) else []:
                    if "image" in part:
                        add(tf, f"sample{i:05d}.{k}.png", (folder / part["image"]).read_bytes())
                        part["image"] = f"{k}.png"
                        k += 1
            add(tf, f"sample{i:05d}.json", json.dumps(r).encode())
            add(tf, f"sample{i:05d}.txt", b"not the row")


def test_jsonl_parquet_and_webdataset_give_the_same_samples(processor, tmp_path):
    _images(tmp_path / "images")
    rows = [r for r in _rows(10) if "messages" in r and "images" not in r]  # one schema for parquet
    write_jsonl(tmp_path / "d.jsonl", rows)
    _write_parquet(tmp_path / "d.parquet", rows)
    (tmp_path / "shards").mkdir()
    _write_tar(tmp_path / "shards" / "d.tar", rows, tmp_path)  # no images/ beside it: read from the tar
    got = {}
    for ext in ("jsonl", "parquet", "shards/d.tar"):
        data, excl = open_sft_data([DataSource(path=tmp_path / ext if "/" in ext else tmp_path / f"d.{ext}")],
                                   processor, max_length=512,
                                   seed=0, **PIX)
        assert excl.total == 0 and len(data) == len(rows)
        got[ext] = [data.encoded(i) for i in reversed(range(len(data)))]  # out of order: random access
    assert sum(e.pixel_values is not None for e in got["shards/d.tar"]) >= 6
    for ext in ("parquet", "shards/d.tar"):
        for a, b in zip(got["jsonl"], got[ext]):
            assert a.id == b.id and torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
            assert (a.pixel_values is None and b.pixel_values is None) or torch.equal(a.pixel_values, b.pixel_values)


@pytest.mark.parametrize("name", ["d.parquet", "d.tar"])
def test_a_damaged_file_is_one_line(processor, tmp_path, name):
    from lingshu.core.errors import UserError

    (tmp_path / name).write_bytes(b"PAR1 not a table" if name.endswith("parquet") else b"\x00" * 100 + b"junk")
    with pytest.raises(UserError) as e:
        open_sft_data([DataSource(path=tmp_path / name)], processor, max_length=512, seed=0, **PIX)
    assert str(e.value).startswith(f"{tmp_path / name}: cannot read it as ") and "\n" not in str(e.value)


def test_ranks_share_every_unit_once_per_epoch():
    """World size 2: the two ranks' micro-batches cover each unit exactly once per epoch."""
    from lingshu.train.data.loader import rank_keys
    from lingshu.train.sft import units_for_step

    n_units, pdb, accum, world = 48, 2, 3, 2
    per_step = pdb * accum * world
    steps = range(1, 2 * n_units // per_step + 1)  # two epochs
    seen: dict[int, list[int]] = {0: [], 1: []}
    for rank in range(world):
        cache: dict = {}
        keys = list(rank_keys(lambda s: units_for_step(s - 1, n_units, per_step, 5, cache), steps, rank, pdb, accum))
        assert len(keys) == len(steps) * accum and all(len(k[1]) == pdb for k in keys)
        for step, units in keys:
            seen[(step - 1) * per_step // n_units].extend(units)
    for epoch in (0, 1):
        assert sorted(seen[epoch]) == list(range(n_units))
    # control: both ranks taking rank 0's share would see half the units twice
    cache = {}
    r0 = [u for _, us in rank_keys(lambda s: units_for_step(s - 1, n_units, per_step, 5, cache),
                                   range(1, 5), 0, pdb, accum) for u in us]
    assert len(set(r0)) == len(r0) == n_units // 2


def _batches(data, workers, keys):
    from lingshu.train.data.loader import Prefetcher
    from lingshu.train.data.packing import collate_padded

    pf = Prefetcher(lambda s, idx: [[data.encoded(i)] for i in idx], lambda got: collate_padded([g[0] for g in got], 0),
                    iter(keys), workers)
    return [pf(step, list(idx)) for step, idx in keys]


def test_workers_give_the_batches_of_no_workers(processor, tmp_path):
    _images(tmp_path / "images")
    path = write_jsonl(tmp_path / "d.jsonl", _rows())
    data, _ = open_sft_data([DataSource(path=path)], processor, max_length=512, seed=0, **PIX)
    keys = [(s, (2 * s % len(data), (2 * s + 5) % len(data))) for s in range(1, 9)]
    ref = _batches(data, 0, keys)
    got = _batches(data, 2, keys)
    assert len(got) == len(ref) == 8
    for a, b in zip(ref, got):
        assert a["inputs"].keys() == b["inputs"].keys()
        for k in a["inputs"]:
            assert torch.equal(a["inputs"][k], b["inputs"][k]), k
        assert torch.equal(a["targets"], b["targets"])


class _Losses:
    """A metrics sink keeping each step's loss and gradient norm."""

    def __init__(self) -> None:
        self.loss: dict[int, tuple[float, float]] = {}

    def write(self, rec: dict) -> None:
        self.loss[rec["step"]] = (rec["loss"], rec["grad_norm"])

    def truncate_after(self, stage: str, step: int) -> None:
        self.loss = {s: v for s, v in self.loss.items() if s <= step}


def _eager_load(config, processor, seed, stage_dir, acc):
    """Today's eager loader (every sample encoded up front) behind the stage's interface."""
    from lingshu.train.data.lazy import EagerSamples

    samples, excl = load_sft_data(config.data, processor, max_length=config.max_length, min_pixels=config.min_pixels,
                                  max_pixels=config.max_pixels, seed=seed, keep_images=config.augment.active)
    return EagerSamples(samples), excl


def _stage_losses(model_dir, data, out, packing, **stage):
    from lingshu.train.config import SFTStageConfig
    from lingshu.train.sft import run_sft_stage

    cfg = SFTStageConfig(name="s", data=[{"path": str(data), "ratio": 1.5}], max_steps=2, max_length=256,
                         parts={"vision": 1e-2, "merger": 1e-2, "llm": 1e-3}, per_device_batch=2, grad_accum=2,
                         warmup_steps=1, packing=packing, checkpoint_every=100, **PIX, **stage)
    sink = _Losses()
    run_sft_stage(cfg, model_path=model_dir, output_dir=out, seed=0, precision="fp32", metrics=sink,
                  stop_after=2)  # no export: the steps are what is compared
    return sink.loss


def _differ(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b) == [1, 2]
    return max(abs(x - y) for s in a for x, y in zip(a[s], b[s]))


def test_stage_losses_equal_the_eager_loader(tiny_vl_dir, tmp_path, monkeypatch):
    """Optimizer steps on the tiny Qwen2.5-VL, unpacked and packed: the same loss and
    gradient norm per step as the eager loader (fp32, 1e-6), read by two DataLoader workers,
    with the stage options that read samples differently (alignment phase, augmentation).
    A control that hands each unit its neighbour's sample is seen to differ."""
    import lingshu.train.sft as sft
    from lingshu.train.data.lazy import LazySFTData

    _images(tmp_path / "images")
    data = write_jsonl(tmp_path / "d.jsonl", _rows())
    # unpacked with the embedding-alignment phase first; packed with image augmentation
    extra = {False: {"embedding_alignment": {"epochs": 1, "batch": 4}},
             True: {"augment": {"crop": 0.8, "flip": True}}}
    eager = {}
    with monkeypatch.context() as m:
        m.setattr(sft, "_load_samples", _eager_load)
        for packing in (False, True):
            eager[packing] = _stage_losses(tiny_vl_dir, data, tmp_path / f"eager{packing}", packing, **extra[packing])
    for packing in (False, True):
        lazy = _stage_losses(tiny_vl_dir, data, tmp_path / f"lazy{packing}", packing, data_workers=2,
                             **extra[packing])
        assert _differ(lazy, eager[packing]) < 1e-6, (packing, lazy, eager[packing])
    real = LazySFTData.encoded
    with monkeypatch.context() as m:  # control: sample i read as sample i+1
        m.setattr(LazySFTData, "encoded", lambda self, i, keep_images=False: real(self, (i + 1) % len(self)))
        off = _stage_losses(tiny_vl_dir, data, tmp_path / "off", False, data_workers=0, **extra[False])
    assert _differ(off, eager[False]) > 1e-3


def test_pixels_that_fail_only_when_decoded_become_a_placeholder(processor, tmp_path):
    """A truncated PNG: its header reads (so the length pass keeps the row) but its pixels do
    not; at batch time it becomes a one-token sample without image or target."""
    from lingshu.train.data.lazy import encoded_or_placeholder
    from lingshu.train.data.sft import IGNORE, BadSample

    _images(tmp_path / "images")
    whole = (tmp_path / "images" / "big.png").read_bytes()
    (tmp_path / "images" / "cut.png").write_bytes(whole[: len(whole) // 2])
    path = write_jsonl(tmp_path / "d.jsonl", [qwen_row(0, "images/cut.png", "Organ?", "Lung.")])
    data, excl = open_sft_data([DataSource(path=path)], processor, max_length=512, seed=0, **PIX)
    assert excl.total == 0 and len(data) == 1
    with pytest.raises(BadSample) as e:
        data.encoded(0)
    assert e.value.reason == "corrupt_image"
    ph = encoded_or_placeholder(data, 0, pad_id=7)
    assert ph.input_ids.tolist() == [7] and ph.labels.tolist() == [IGNORE] and ph.pixel_values is None
