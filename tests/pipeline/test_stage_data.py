"""Stage data from curated records: which records each stage takes, and how multiple
choice is asked (hand-written expected rows), plus the raw step's captions and the recipe's
one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingshu.core.errors import UserError
from lingshu.pipeline.raw import caption
from lingshu.pipeline.recipe import StageData, load_pipeline_recipe
from lingshu.eval.scoring.extract import extract_choice
from lingshu.pipeline.stage_data import build_stage_rows, mcq_answer, part_of, read_curated

REPO = Path(__file__).resolve().parents[2]

CAPTION = {"id": "s:a", "source": "s", "meta": {}, "messages": [
    {"role": "user", "content": [{"type": "image", "image": "/x/a.png"},
                                 {"type": "text", "text": "Describe this image briefly."}]},
    {"role": "assistant", "content": [{"type": "text", "text": "A CT image of the chest."}]}]}
MCQ = {"id": "s:a/tvqa-organ", "source": "s", "meta": {
    "synthesis": "synth_vqa_template", "question_type": "mcq", "answer": "B",
    "options": {"A": "head", "B": "chest", "C": "abdomen"}}, "messages": [
    {"role": "user", "content": [{"type": "image", "image": "/x/a.png"}, {"type": "text", "text":
        "Which organ or body region is shown in this image?\nA. head\nB. chest\nC. abdomen"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "B. chest"}]}]}
TEXT = {"id": "t:1", "source": "text", "meta": {}, "messages": [
    {"role": "user", "content": [{"type": "text", "text": "What does CT stand for?"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Computed tomography."}]}]}


def test_parts():
    assert [part_of(r) for r in (CAPTION, MCQ, TEXT)] == ["caption", "mcq", "text"]


def test_mcq_asked_as_the_evaluation_kit_asks_it():
    rows = build_stage_rows([CAPTION, MCQ, TEXT], StageData(include=["mcq"]), seed=0)
    assert len(rows) == 1
    user, answer = rows[0]["messages"]
    assert user["content"][0] == {"type": "image", "image": "/x/a.png"}
    assert user["content"][1]["text"] == (
        "Question: Which organ or body region is shown in this image?\nOptions:\n"
        "A. head\nB. chest\nC. abdomen\n"
        "Answer with the option's letter from the given choices directly.")
    assert answer["content"][0]["text"] == "B. chest"


@pytest.mark.parametrize(("style", "expected"), [
    ("letter_text", "B. chest"), ("letter", "B"), ("text", "chest"),
    ("text_then_letter", "chest. Answer: B")])
def test_mcq_answer_styles_and_the_strict_parser_reads_each_back(style, expected):
    rows = build_stage_rows([MCQ], StageData(include=["mcq"], mcq_answer=style), seed=0)
    assert rows[0]["messages"][1]["content"][0]["text"] == expected
    assert extract_choice(expected, MCQ["meta"]["options"]).value == "B"


@pytest.mark.parametrize(("style", "expected"), [
    ("letter_text", "<answer>B</answer>"), ("letter", "<answer>B</answer>"),
    ("text", "<answer>chest</answer>"), ("text_then_letter", "<answer>chest</answer>")])
def test_rl_cold_start_answer_follows_the_style(style, expected):
    from lingshu.train.rewards.accuracy import accuracy
    from lingshu.train.rewards.format import format_no_thinking

    spec = StageData(include=["mcq"], mcq_answer=style, rl_prompt_share=1.0)
    (row,) = build_stage_rows([MCQ], spec, seed=0)
    assert row["messages"][1]["content"][0]["text"] == expected
    assert "<answer>" in row["messages"][0]["content"][1]["text"]  # asked with the GRPO prompt
    # the GRPO stage's own rewards pay the cold-start target in full
    assert format_no_thinking([expected]) == [1.0]
    assert accuracy([expected], answer=["B"], options=[MCQ["meta"]["options"]],
                    question_type=["mcq"]) == [1.0]


TEXT_MCQ = {"id": "t:m", "source": "text", "meta": {
    "question_type": "mcq", "answer": "D", "options": {"A": "liver", "B": "spleen", "C": "lung", "D": "heart"}},
    "messages": [{"role": "user", "content": [{"type": "text", "text":
        "Which organ pumps blood?\nA. liver\nB. spleen\nC. lung\nD. heart"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "D. heart"}]}]}


def test_text_multiple_choice_is_text_asked_as_multiple_choice():
    assert part_of(TEXT_MCQ) == "text"
    (row,) = build_stage_rows([TEXT_MCQ], StageData(include=["text"], mcq_answer="text_then_letter"), seed=0)
    user, answer = row["messages"]
    assert user["content"] == [{"type": "text", "text": (
        "Question: Which organ pumps blood?\nOptions:\nA. liver\nB. spleen\nC. lung\nD. heart\n"
        "Answer with the option's letter from the given choices directly.")}]
    assert answer["content"][0]["text"] == "heart. Answer: D"
    # GRPO's rows are image questions only (TRL cannot batch image and text-only prompts)
    assert build_stage_rows([MCQ, TEXT_MCQ], StageData(include=["mcq"], format="rl"), seed=0)[0]["id"] == MCQ["id"]
    assert len(build_stage_rows([MCQ, TEXT_MCQ], StageData(include=["mcq"], format="rl"), seed=0)) == 1


def test_mcq_answer_rejects_a_gold_outside_the_options():
    with pytest.raises(ValueError, match="gold letter 'D'"):
        mcq_answer("text", "D", {"A": "head", "B": "chest"})


def test_rl_rows_carry_gold_options_and_type():
    rows = build_stage_rows([CAPTION, MCQ, TEXT], StageData(include=["mcq"], format="rl"), seed=0)
    assert rows == [{
        "id": "s:a/tvqa-organ", "source": "s", "modality": None, "answer": "B",
        "question_type": "mcq", "options": {"A": "head", "B": "chest", "C": "abdomen"},
        "messages": [{"role": "user", "content": [
            {"type": "image", "image": "/x/a.png"},
            {"type": "text", "text": "Which organ or body region is shown in this image?\n"
                                     "A. head\nB. chest\nC. abdomen"}]}]}]


def test_include_and_repeat():
    rows = build_stage_rows([CAPTION, MCQ, TEXT], StageData(include=["caption", "text"], repeat=2), seed=0)
    assert sorted(r["id"] for r in rows) == ["s:a#0", "s:a#1", "t:1#0", "t:1#1"]


def test_read_curated_makes_image_paths_absolute(tmp_path):
    row = json.loads(json.dumps(CAPTION))
    row["messages"][0]["content"][0]["image"] = "images/a.png"
    (tmp_path / "shard-00000.jsonl").write_text(json.dumps(row) + "\n")
    (got,) = read_curated(tmp_path)
    assert got["messages"][0]["content"][0]["image"] == str((tmp_path / "images" / "a.png").resolve())


def test_captions_say_only_what_labels_say():
    assert caption("chest", "CT") == "A CT image of the chest."
    assert caption("head", "MRI") == "An MRI image of the head."
    assert caption("chest", "X-ray") == "An X-ray image of the chest."
    assert caption(None, "fundus") == "A fundus image."
    assert caption("abdomen", None) == "A medical image of the abdomen."


def test_recipe_errors_are_one_line(tmp_path):
    shipped = "nano"  # src/lingshu/pipeline/recipes/nano.yaml, by name
    root = f"data_root={REPO / 'data'}"  # the repository's data/, whatever the current folder
    with pytest.raises(UserError, match=r"stage_data\.stage1-shallow-alignment\.colour: unknown key"):
        load_pipeline_recipe(shipped, [root, "stage_data.stage1-shallow-alignment.colour=red"])
    with pytest.raises(UserError, match=r"raw.manifest: file .*nope.jsonl does not exist"):
        load_pipeline_recipe(shipped, [root, "raw.manifest=nope.jsonl"])
    with pytest.raises(UserError, match=r"rl rows come from multiple choice only"):
        load_pipeline_recipe(shipped, [root, "stage_data.stage4-grpo.include=[mcq, text]"])
    with pytest.raises(UserError, match=r"data_root: folder .*nowhere does not exist"):
        load_pipeline_recipe(shipped, [f"data_root={tmp_path / 'nowhere'}"])
    with pytest.raises(UserError, match=r"pipeline recipe 'nanoo': no such file .* shipped: nano"):
        load_pipeline_recipe("nanoo")
    from lingshu.pipeline import resolve_recipe_path

    nano = REPO / "src" / "lingshu" / "pipeline" / "recipes" / "nano.yaml"
    assert resolve_recipe_path("nano") == resolve_recipe_path("recipes/nano/pipeline.yaml") == nano
    assert load_pipeline_recipe(shipped, [root]).evaluation.benchmarks[0].name == "lingshu-demo"


def test_recipe_holds_typed_sub_recipes():
    """The curation and training recipes arrive typed, joined as the pipeline runs them."""
    from lingshu.data.curate import Recipe as CurationRecipe
    from lingshu.train import Recipe as TrainingRecipe

    r = load_pipeline_recipe("nano", [f"data_root={REPO / 'data'}", "seed=7",
                                      "training_overrides=[stages.0.max_steps=3]"])
    assert isinstance(r.curation, CurationRecipe) and isinstance(r.training, TrainingRecipe)
    assert r.training.seed == 7 and r.training.stages[0].max_steps == 3
    assert [s.kind for s in r.training.stages] == ["sft", "sft", "sft", "grpo"]
    (decon,) = [op for op in r.curation.ops if op.op == "decontaminate"]
    assert decon.params["data_dir"] == str(REPO / "data" / "benchmarks")
    assert r.raw.manifest == REPO / "data" / "demo" / "images.jsonl"
    assert r.evaluation.batch_size == 32 and r.evaluation.device == "cpu" and r.evaluation.profile == "strict"
