"""Issue 22, point 2: a synthesis backend's api_key is used, never written: not in
data_card.md (the file meant to be published), nor in any other file of the run."""

from __future__ import annotations

from curation_helpers import write_jsonl, write_recipe

from lingshu.data.curate import load_recipe, run_recipe

KEY = "sk-FIRST-0a1b2c3d"


def files_holding(root, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_a_curation_recipe_api_key_stays_out_of_every_output(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [
        {"id": f"q{i}", "question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(3)
    ])
    llm = {"backend": "openai", "max_new_tokens": 4,
           "options": {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key": KEY,
                       "max_retries": 0, "timeout_s": 2}}
    recipe = write_recipe(tmp_path / "r.yaml", [{"name": "d", "path": "d.jsonl"}],
                          [{"op": "synth_cot", "llm": llm, "keep_source": True}])
    run_recipe(load_recipe(recipe))
    card = (tmp_path / "out" / "data_card.md").read_text()
    assert "synth_cot" in card and '"base_url": "http://127.0.0.1:9/v1"' in card
    assert files_holding(tmp_path / "out", KEY) == []  # the recipe itself is the user's file
