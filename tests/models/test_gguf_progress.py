"""The GGUF conversion behind Lingshu-Nano prints no progress bar when lingshu's bars are
off (``-q``, or stderr not a terminal): transformers' GGUF reader drew its own plain
``tqdm.auto`` bar ("Converting and de-quantizing GGUF tensors...") into every log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lingshu.cli.output import configure_progress
from lingshu.models.smollm2 import _convert

GGUF_BAR = "Converting and de-quantizing GGUF tensors"


def _tiny_llama_gguf(path: Path) -> Path:
    """A one-layer llama (hidden 16) with a six-token BPE vocabulary: what transformers needs
    to read a GGUF model and its tokenizer, in 12 KB."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    hidden, ff, tokens = 16, 32, ["<|endoftext|>", "a", "b", "c", "ab", "Ġ"]
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_block_count(1)
    w.add_feed_forward_length(ff)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(hidden // 2)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([3] + [1] * (len(tokens) - 1))
    w.add_token_merges(["a b"])
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    rng = np.random.default_rng(0)
    shapes = {"token_embd": (len(tokens), hidden), "blk.0.attn_q": (hidden, hidden),
              "blk.0.attn_k": (hidden, hidden), "blk.0.attn_v": (hidden, hidden),
              "blk.0.attn_output": (hidden, hidden), "blk.0.ffn_gate": (ff, hidden),
              "blk.0.ffn_up": (ff, hidden), "blk.0.ffn_down": (hidden, ff)}
    for name, shape in shapes.items():
        w.add_tensor(f"{name}.weight", rng.standard_normal(shape).astype(np.float32))
    for name in ("output_norm", "blk.0.attn_norm", "blk.0.ffn_norm"):
        w.add_tensor(f"{name}.weight", np.ones(hidden, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture()
def progress_policy(monkeypatch):
    """Apply lingshu's progress policy for one test, then put transformers' switch back."""
    from transformers.utils import logging as hf_logging

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")  # restored after the test
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()  # as a fresh process starts
    yield configure_progress
    if was_on:
        hf_logging.enable_progress_bar()
    else:
        hf_logging.disable_progress_bar()


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "not-a-terminal"])
def test_no_gguf_bar_when_bars_are_off(tmp_path, capfd, progress_policy, quiet):
    gguf_file = _tiny_llama_gguf(tmp_path / "tiny.gguf")
    assert progress_policy(quiet=quiet) is False  # capfd: stderr is not a terminal
    _convert(gguf_file, tmp_path / "out")
    err = capfd.readouterr().err
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert GGUF_BAR not in err and "it/s]" not in err and "\r" not in err, err


def test_the_bar_shows_where_bars_are_on(tmp_path, capfd, progress_policy):
    """Control: the capture sees the bar when transformers' bars are on (a terminal
    without -q), so the test above would catch it."""
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    _convert(_tiny_llama_gguf(tmp_path / "tiny.gguf"), tmp_path / "out")
    assert GGUF_BAR in capfd.readouterr().err


@pytest.mark.parametrize(("args", "terminal", "bars"), [
    (["-q"], True, False), ([], True, True), ([], False, False)],
    ids=["quiet-on-a-terminal", "terminal", "not-a-terminal"])
def test_pipeline_applies_the_progress_policy(monkeypatch, progress_policy, args, terminal, bars):
    """``lingshu pipeline -q`` builds Lingshu-Nano (the conversion above) in its own process:
    its -q must switch transformers' bars off too, as ``lingshu eval run -q`` does, and off a
    terminal its own evaluation bars stay off."""
    from transformers.utils import logging as hf_logging
    from typer.testing import CliRunner

    import lingshu.pipeline
    from lingshu.cli import output
    from lingshu.cli.main import app

    seen = {}

    def fake_run(cfg, *, progress, console):
        seen.update(progress=progress, library=hf_logging.is_progress_bar_enabled())
        raise SystemExit(0)

    monkeypatch.setattr(output, "is_terminal", lambda stream=None: terminal)
    monkeypatch.setattr(lingshu.pipeline, "load_pipeline_recipe", lambda *a: type("R", (), {
        "name": "n", "output_dir": "o"}))
    monkeypatch.setattr(lingshu.pipeline, "run_pipeline", fake_run)
    CliRunner().invoke(app, ["pipeline", "--recipe", "nano", *args])
    assert seen == {"progress": bars, "library": bars}
