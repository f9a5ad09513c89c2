"""De-identification against the hand-labelled corpus (tests/golden/deid, CC0; see its README).

The thresholds are for the held-out notes only (ids ending in 3, 6 or 9), which were never
used to tune the rules; each is set just under what bench/deid_recall.py measured on them
(docs/curation.md), so a regression fails. Every PHI-free note must come back unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lingshu.data.curate.deid import find_phi, scrub
from lingshu.data.curate.deid.score import load_corpus, score
from lingshu.data.curate.deid.spans import cut_words, merge, replace, snap
from lingshu.data.curate.ops import OPS
from lingshu.data.curate.record import Record, conversation

CORPUS = Path(__file__).resolve().parents[2] / "golden" / "deid" / "corpus.jsonl"
# measured on the held-out split: NAME 36/37, DATE 24/24, AGE 10/11, PHONE 15/16, EMAIL 4/4,
# ADDRESS 13/14, ID 12/12 (one miss more fails the test)
HELDOUT_MIN = {"NAME": 0.97, "DATE": 1.0, "AGE": 0.9, "PHONE": 0.93, "EMAIL": 1.0,
               "ADDRESS": 0.92, "ID": 1.0}


def test_corpus_shape():
    rows = load_corpus(CORPUS)
    assert len(rows) == 186
    assert sum(len(r["spans"]) for r in rows) == 395
    assert sum(r["kind"] == "free" for r in rows) == 86
    for r in rows:
        for s in r["spans"]:
            assert r["text"][s["start"] : s["end"]] == s["text"]


def test_heldout_recall_per_category():
    s = score(find_phi, load_corpus(CORPUS, "heldout"))
    for cat, floor in HELDOUT_MIN.items():
        assert s.recall(cat) >= floor, (cat, s.recall(cat), s.missed)
    assert s.recall() >= 0.96
    assert s.precision() >= 0.98, s.false_pos
    assert s.cut == 0


def test_phi_free_notes_unchanged():
    free = [r for r in load_corpus(CORPUS) if r["kind"] == "free"]
    assert len(free) == 86
    changed = [(r["id"], find_phi(r["text"])) for r in free if scrub(r["text"])[0] != r["text"]]
    assert changed == []


@pytest.mark.parametrize("text, expected", [
    ("Patient: José García, seen today.", "Patient: [NAME], seen today."),
    ("Seen by Dr. Zsófia Kovács-Nagy and Mrs Siobhán O'Connor.",
     "Seen by Dr. [NAME] and Mrs [NAME]."),
    ("Referred by Nguyễn Thị Minh Khai; Down syndrome, Crohn disease.",
     "Referred by [NAME]; Down syndrome, Crohn disease."),
    ("Denies fever. Platelets 245 x10^9/L, BP 128/76.",
     "Denies fever. Platelets 245 x10^9/L, BP 128/76."),
    ("患者张伟，男，92岁，电话13800138000。", "患者[NAME]，男，[AGE]岁，电话[PHONE]。"),
    ("Татьяна Иванова (Tatiana Ivanova), DOB 21.06.1949.", "[NAME] ([NAME]), DOB [DATE]."),
])
def test_unicode_names_and_neighbours_intact(text, expected):
    assert scrub(text)[0] == expected


def test_snap_merge_replace_by_hand():
    text = "José García"
    assert snap(text, [(0, 3, "NAME")]) == [(0, 4, "NAME")]  # "Jos" of "José"
    assert cut_words(text, [(0, 3, "NAME")]) == 1
    spans = [(5, 11, "NAME"), (0, 4, "NAME"), (3, 6, "DATE")]
    assert merge(spans, ("DATE", "NAME")) == [(0, 11, "NAME")]
    assert replace("ab cd ef", [(3, 5, "X")]) == "ab [X] ef"


def test_op_replaces_records_and_audits():
    t = "Dr. Maria Gonzalez saw me on 03/14/2021; call (312) 555-0199."
    cls = OPS.get("deidentify")
    [r], dropped = cls(cls.Params()).apply(
        [Record(id="a", source="s", task="dialogue",
                messages=conversation("Hi, I am Wei Zhang.", t))])
    assert dropped == []
    assert r.text("user") == "Hi, I am [NAME]."
    assert r.text("assistant") == "Dr. [NAME] saw me on [DATE]; call [PHONE]."
    stats = r.stats["deidentify"]
    assert stats["replaced"] == {"NAME": 2, "DATE": 1, "PHONE": 1}
    # offsets into the original part, no PHI text kept
    assert stats["spans"] == [[0, 9, 18, "NAME"], [1, 4, 18, "NAME"], [1, 29, 39, "DATE"],
                              [1, 46, 60, "PHONE"]]


def test_op_categories_are_configurable():
    cls = OPS.get("deidentify")
    op = cls(cls.Params(categories=["DATE"]))
    rec = Record(id="a", source="s", messages=conversation("q", "Ayşe Yılmaz, 2024-01-19."))
    [r], _ = op.apply([rec])
    assert r.text("assistant") == "Ayşe Yılmaz, [DATE]."
    with pytest.raises(ValidationError, match="categories"):
        cls.Params(categories=["SSN"])
    with pytest.raises(ValidationError, match="replaces nothing"):
        cls.Params(categories=[])


def test_missing_word_lists_fail_in_one_line(monkeypatch):
    from lingshu.data.curate.deid import lexicon

    lexicon.load_lexicon.cache_clear()
    monkeypatch.setattr(lexicon.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(lexicon.LexiconError, match=r"pip install philter-lite==0\.6\.0"):
        lexicon.load_lexicon()
    monkeypatch.undo()
    lexicon.load_lexicon.cache_clear()


def test_long_odd_input_is_linear():
    """Runs of one token repeated (60K characters each) once took 100 s for the email pattern
    and for name-run trimming (quadratic); linear code takes about a second each here."""
    import time

    start = time.perf_counter()
    for unit in ("12-34-", "x@", "St. ", "Aa.Aa.", "Aaaa "):
        find_phi(unit * (60000 // len(unit)))
    assert time.perf_counter() - start < 40
