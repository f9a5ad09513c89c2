"""The `medevalkit` profile reproduces what MedEvalKit's loaders hand the model and its
scorers (issue 9): PMC-VQA option cells as written in the CSV, OmniMedVQA's empty options
C/D as lines, MMMU's image_1 even when the options are images, VQA-RAD's closed/open
grouping by the gold answer, and SLAKE's English + Chinese test set (2,094 questions).

Expected strings are written by hand from MedEvalKit's loaders (``choices`` joined by
"\\n"; ``f"{option}. {choice}"`` for every ``option_A..D`` key) and the real bundled data."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from lingshu.eval.benchmarks.omnimedvqa import OmniMedVqa
from lingshu.eval.benchmarks.pmc_vqa import PmcVqa
from lingshu.eval.benchmarks.slake import Slake
from lingshu.eval.benchmarks.vqa_rad import VqaRad
from lingshu.eval.prompts import get_profile
from lingshu.eval.types import Sample

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "benchmarks"
BUNDLED = REPO / "data" / "benchmarks"
MEK = get_profile("medevalkit")
STRICT = get_profile("strict")
INSTR = "Answer with the option's letter from the given choices directly."
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _text(messages):
    return messages[0]["content"][-1]["text"]


def _pmc(tmp_path):
    root = tmp_path / "pmc-vqa"
    shutil.copytree(FIXTURES / "pmc-vqa", root)
    with (root / "test_2.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            (root / "figures").mkdir(exist_ok=True)
            (root / "figures" / row["Figure_path"]).write_bytes(PNG)
    return PmcVqa().load(tmp_path)


def test_pmc_vqa_option_cells_are_sent_with_their_spaces(tmp_path):
    first = _pmc(tmp_path)[0]  # CSV cells " A:CT scan ", " B:MRI ", ...
    assert _text(MEK.build_messages(first)) == (
        "\nQuestion: What imaging modality was used to acquire this image?\nOptions: \n"
        f" A:CT scan \n B:MRI \n C:X-ray \n D:Ultrasound \n{INSTR}"
    )
    assert "A. CT scan\nB. MRI" in _text(STRICT.build_messages(first))  # strict: clean options


def test_pmc_vqa_scores_against_the_cells_with_their_spaces():
    # difflib ratios by hand: "no" vs "  a:no  " = 2*2/(8+2) = 0.4, vs "b:nope" = 2*2/(6+2)
    # = 0.5 -> B; against stripped cells "a:no" = 4/6 = 0.67 would have chosen A.
    s = Sample(
        id="p", benchmark="pmc-vqa", task="mcq", question="Q?", answer="A",
        options={"A": "no", "B": "nope"}, raw_options={"A": "  A:no  ", "B": "B:nope"},
    )  # fmt: skip
    v = MEK.score(s, "no")
    assert (v.extracted, v.correct, v.method) == ("B", False, "mcq-similarity-guess")


def _omni(tmp_path):
    root = tmp_path / "omnimedvqa"
    shutil.copytree(FIXTURES / "omnimedvqa", root)
    for f in (root / "QA_information" / "Open-access").glob("*.json"):
        for row in json.loads(f.read_text(encoding="utf-8")):
            (root / row["image_path"]).parent.mkdir(parents=True, exist_ok=True)
            (root / row["image_path"]).write_bytes(PNG)
    return OmniMedVqa().load(tmp_path)


def test_omnimedvqa_empty_options_c_d_are_lines_and_count(tmp_path):
    first = _omni(tmp_path)[0]  # ACRIMA_0000: option_C = option_D = ""
    assert first.options == {"A": "Diabetic retinopathy", "B": "Glaucoma"}
    assert _text(MEK.build_messages(first)) == (
        "\nQuestion: What is the diagnosis shown in this fundus image?\nOptions: \n"
        f"A. Diabetic retinopathy\nB. Glaucoma\nC. \nD. \n{INSTR}"
    )
    v = MEK.score(first, "C")  # a letter MedEvalKit offered: read, not guessed
    assert (v.extracted, v.correct, v.method) == ("C", False, "mcq-parse")
    assert STRICT.score(first, "C").invalid  # strict: C is no option


def test_mmmu_image_options_still_send_image_1():
    pictures = {"A": "<img='a.png'>", "B": "<img='b.png'>"}
    s = Sample(
        id="m", benchmark="mmmu-med", task="mcq", question="<image 1> Which?", answer="A",
        options=pictures, images=("/i/1.png", "/i/2.png", "/i/3.png"),
    )  # fmt: skip
    parts = MEK.build_messages(s)[0]["content"]
    assert [p["image"] for p in parts if p["type"] == "image"] == ["/i/1.png"]


def test_vqa_rad_closed_open_grouped_by_gold_in_medevalkit():
    rows = json.loads(
        (BUNDLED / "vqa-rad" / "VQA_RAD Dataset Public (train rows only).json").read_text()
    )
    samples = VqaRad().load(BUNDLED, "train")
    # the release labels some non-yes/no answers CLOSED ("Which side?" -> "left")
    relabelled = [s for s in samples if s.answer_type == "closed" and s.answer.lower() not in ("yes", "no")]
    assert relabelled, "the bundled rows hold CLOSED questions with non-yes/no golds"
    for s in samples:
        gold_closed = s.answer.lower().strip() in ("yes", "no")
        assert MEK.categories(s)["answer_type"] == ("closed" if gold_closed else "open")
        assert MEK.categories(s)["dataset_answer_type"] == s.answer_type
        assert STRICT.categories(s) == s.categories
    assert len(rows) >= len(samples)


def test_slake_english_and_chinese_together_is_a_named_split():
    rows = json.loads((BUNDLED / "slake" / "test.sample40images.json").read_text(encoding="utf-8"))
    both = Slake().load(BUNDLED, "test-en-zh")
    assert [s.id for s in both] == [str(r["qid"]) for r in rows]  # release order, both languages
    assert "test-en-zh" in Slake.splits and "2,094" in Slake.description()


def test_vqa_rad_medevalkit_run_reports_gold_grouped_sub_accuracies(tmp_path):
    from lingshu.eval.config import EvalConfig
    from lingshu.eval.runner import run_eval

    samples = VqaRad().load(BUNDLED, "train")[:80]  # rows 77, 78: CLOSED, gold not yes/no
    n_closed = sum(s.answer.lower().strip() in ("yes", "no") for s in samples)
    for profile, want in (("medevalkit", n_closed), ("strict", sum(s.answer_type == "closed" for s in samples))):
        cfg = EvalConfig(
            benchmarks=["vqa-rad"], split="train", limit=80, data_dir=BUNDLED, backend="dummy",
            profile=profile, cache_path=tmp_path / "c.sqlite", bootstrap_resamples=100,
        )  # fmt: skip
        metrics = run_eval(cfg, tmp_path / profile, progress=False).metrics
        closed = metrics["benchmarks"]["vqa-rad"]["breakdowns"]["answer_type"]["closed"]
        assert closed["n"] == want, profile
    assert n_closed != sum(s.answer_type == "closed" for s in samples)


def test_mmmu_open_answers_are_never_parsed_as_in_medevalkit():
    """MedEvalKit's MMMU validation runner hands the raw response to ``eval_open``, which
    iterates its characters: "25" answered "25" is wrong there (and right in strict)."""
    s = Sample(id="o", benchmark="mmmu-med", task="vqa", question="How many?", answer="25", answer_type="open")
    v = MEK.score(s, "25")
    assert (v.correct, v.extracted, v.method) == (False, "25", "mmmu-open-unparsed")
    assert STRICT.score(s, "25").correct


def test_profiles_doc_lists_every_medevalkit_difference_with_its_status():
    doc = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    table = doc.split("## Every way MedEvalKit differs from correct scoring", 1)[1]
    rows = [ln for ln in table.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert len(rows) >= 20
    for row in rows:
        status = row.split(" | ")[2]
        assert status.startswith(("reproduced", "fixed", "not reproduced")), row
    for behaviour in (
        "divided by the count twice", "never parsed", "blank answer becomes option A",
        "surrounding spaces", '"C. " / "D. "', "`image_1` is sent anyway", "2,094",
        "by substring", "most similar option", "rotated",
    ):  # fmt: skip
        assert behaviour in table, behaviour
