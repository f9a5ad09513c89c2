"""Issue 22, point 12: a token_count tokenizer folder that does not exist (or holds no
tokenizer) is one line, at load or at setup, not a traceback from transformers."""

from __future__ import annotations

import pytest
import yaml

from lingshu.core.errors import UserError
from lingshu.data.curate import load_recipe
from lingshu.data.curate.ops.text import get_tokenizer


def _recipe(tmp_path, tokenizer: str):
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "Q?", "answer": "A."}\n')
    doc = {"name": "t", "inputs": [{"name": "d", "path": "d.jsonl"}],
           "ops": [{"op": "token_count", "tokenizer": tokenizer}], "output": {"dir": "out"}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path / "r.yaml"


def test_a_missing_tokenizer_folder_fails_at_load(tmp_path):
    with pytest.raises(UserError) as info:
        load_recipe(_recipe(tmp_path, str(tmp_path / "no-such-tokenizer"))).build_ops()
    msg = str(info.value)
    assert "\n" not in msg and "token_count" in msg and "no such folder" in msg, msg


def test_a_folder_without_a_tokenizer_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as info:
        get_tokenizer(str(tmp_path / "empty"))
    msg = str(info.value)
    assert "\n" not in msg and "could not be loaded" in msg and "qwen2.5" in msg, msg
