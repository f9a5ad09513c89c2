"""RL data preparation: rewriting, balancing, yes/no share, report, determinism.

Expected counts are worked by hand in the comments from the module's rules.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from lingshu.train.grpo.data_prep import (
    RLDataPrepConfig,
    prepare_rl_data,
    prepare_rl_rows,
    rewrite_as_open,
    water_fill,
)
from lingshu.train.grpo.rows import parse_rl_row

MCQ_TEXT = (
    "What organ is shown?\nOptions:\nA. Liver\nB. Spleen\n"
    "Answer with the option's letter from the given choices directly."
)


def _row(id_: str, modality: str, qtype: str, **kw) -> dict:
    text = kw.pop("text", f"question {id_}?")
    return {
        "id": id_,
        "messages": [
            {"role": "user", "content": [{"type": "image", "image": f"img/{id_}.png"},
                                         {"type": "text", "text": text}]}
        ],
        "modality": modality,
        "question_type": qtype,
        **kw,
    }


def _phrase_mcq(id_: str, modality: str) -> dict:
    return _row(id_, modality, "mcq", text=MCQ_TEXT, answer="B",
                options={"A": "Liver", "B": "Spleen"})


def _sentence_mcq(id_: str, modality: str) -> dict:
    return _row(id_, modality, "mcq", answer="A", options={
        "A": "The lesion is in the left upper lobe", "B": "There is no lesion at all here"})


def corpus() -> list[dict]:
    rows = [_phrase_mcq(f"ct-p{i:02d}", "CT") for i in range(10)]
    rows += [_sentence_mcq(f"ct-s{i:02d}", "CT") for i in range(4)]
    rows += [_row(f"ct-y{i:02d}", "CT", "yes_no", answer="yes" if i % 2 else "no")
             for i in range(40)]
    rows += [_phrase_mcq(f"mr-p{i:02d}", "MRI") for i in range(3)]
    rows += [_row(f"mr-n{i:02d}", "MRI", "numeric", answer=str(i)) for i in range(2)]
    rows += [_row(f"xr-o{i:02d}", "X-ray", "open", answer="pneumonia") for i in range(20)]
    rows += [{"id": "bad-1", "messages": []}, _row("bad-2", "CT", "open")]  # no user / no answer
    return rows


def test_rewrite_phrase_mcq_as_open_question() -> None:
    new = rewrite_as_open(parse_rl_row(_phrase_mcq("x", "CT"), 0), max_words=4)
    assert new is not None
    assert (new.question, new.answer, new.question_type, new.options) == (
        "What organ is shown?", ["Spleen"], "open", None)
    assert new.raw["messages"][0]["content"] == [
        {"type": "image", "image": "img/x.png"}, {"type": "text", "text": "What organ is shown?"}]
    assert "options" not in new.raw and new.raw["rewritten_from"] == "mcq"


def test_mcq_kept_when_gold_is_not_a_word_or_phrase() -> None:
    def mcq(gold_text: str) -> dict:
        return _row("x", "CT", "mcq", text=MCQ_TEXT, answer="B",
                    options={"A": "Liver", "B": gold_text})

    for text in ("All of the above", "12", "yes", "The lesion is in the left lobe"):
        assert rewrite_as_open(parse_rl_row(mcq(text), 0), max_words=4) is None, text
    assert rewrite_as_open(parse_rl_row(mcq("left upper lobe"), 0), max_words=4) is not None


def test_water_fill() -> None:
    sizes = {"a": 10, "b": 4, "c": 3, "d": 2, "e": 20}
    assert water_fill(sizes, 20) == 5  # 5+4+3+2+5 = 19 <= 20; cap 6 gives 21
    assert water_fill(sizes, 100) == 20  # everything fits
    assert water_fill(sizes, 5) == 1  # 5 cells x 1


def test_counts_without_balancing() -> None:
    rows, report = prepare_rl_rows(corpus(), RLDataPrepConfig(seed=0))
    # 13 phrase MCQs become open; 39 non-yes/no rows kept; yes/no = round(0.05*39/0.95) = 2.
    assert report["mcq_rewritten_as_open"] == 13
    assert report["rows_out"] == 41 and len(rows) == 41
    assert report["counts_before"]["CT"] == {"mcq": 14, "yes_no": 40}
    assert report["counts_after"] == {
        "CT": {"mcq": 4, "open": 10, "yes_no": 2},
        "MRI": {"numeric": 2, "open": 3},
        "X-ray": {"open": 20},
    }
    assert report["dropped"] == {
        "invalid: missing or empty 'answer'": 1,
        "invalid: no user message": 1,
        "yes/no down-sampled": 38,
    }


def test_balanced_to_target_by_modality_and_format() -> None:
    rows, report = prepare_rl_rows(corpus(), RLDataPrepConfig(target_size=20, seed=0))
    # cells CT/open 10, CT/mcq 4, MRI/open 3, MRI/numeric 2, X-ray/open 20 -> cap 5 -> 19 kept;
    # yes/no = round(0.05 * 19 / 0.95) = 1.
    assert report["cell_cap"] == 5
    assert report["counts_after"] == {
        "CT": {"mcq": 4, "open": 5, "yes_no": 1},
        "MRI": {"numeric": 2, "open": 3},
        "X-ray": {"open": 5},
    }
    assert report["yes_no_share_out"] == round(1 / 20, 4)


def test_deterministic_and_independent_of_input_order() -> None:
    cfg = RLDataPrepConfig(target_size=20, seed=7)
    a, _ = prepare_rl_rows(corpus(), cfg)
    shuffled = corpus()
    random.Random(1).shuffle(shuffled)
    b, _ = prepare_rl_rows(shuffled, cfg)
    assert [r.id for r in a] == [r.id for r in b]
    c, _ = prepare_rl_rows(corpus(), RLDataPrepConfig(target_size=20, seed=8))
    assert [r.id for r in a] != [r.id for r in c]


def test_prepare_files_rebases_images_and_writes_report(tmp_path: Path) -> None:
    src = tmp_path / "curated" / "qa.jsonl"
    src.parent.mkdir()
    src.write_text("".join(json.dumps(r) + "\n" for r in corpus()) + "{not json\n")
    out = tmp_path / "rl" / "train.jsonl"
    report = prepare_rl_data([src], out, RLDataPrepConfig(seed=0))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == report["rows_out"] == 41
    first_image = rows[0]["messages"][0]["content"][0]["image"]
    assert first_image.startswith("../curated/img/")
    assert all(r["question_type"] in ("mcq", "open", "yes_no", "numeric") for r in rows)
    assert report["dropped"]["invalid: " + str(src) + ":" + str(len(corpus()) + 1)
                             + " is not valid JSON"] == 1
    saved = json.loads((tmp_path / "rl" / "train.report.json").read_text())
    assert saved["counts_after"] == report["counts_after"]
    md = (tmp_path / "rl" / "train.report.md").read_text()
    assert "| modality | mcq | numeric | open | yes_no | total |" in md
    assert "| CT | 4 | 0 | 10 | 2 | 16 |" in md  # columns: mcq numeric open yes_no


def test_rewrite_cuts_options_written_on_the_question_line() -> None:
    row = _row("x", "radiology", "mcq", answer="A", options={"A": "head", "B": "chest"},
               text="Which body region is shown? A. head B. chest")
    new = rewrite_as_open(parse_rl_row(row, 0), max_words=4)
    assert new is not None
    assert (new.question, new.answer) == ("Which body region is shown?", ["head"])
    row = _row("y", "CT", "mcq", answer="B", options={"A": "Liver", "B": "Spleen"},
               text="Organ? Options: (A) liver (B) spleen")
    assert rewrite_as_open(parse_rl_row(row, 0), max_words=4).question == "Organ?"

