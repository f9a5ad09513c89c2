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
# measured on the held-out split: NAME 36/37, DATE 24/24, AGE 11/11, PHONE 16/16, EMAIL 4/4,
# ADDRESS 13/14, ID 12/12 (one miss more fails the test). AGE and PHONE were 10/11 and 15/16
# until 2026-12-07, when their two misses were fixed: since then they are not held out.
HELDOUT_MIN = {"NAME": 0.97, "DATE": 1.0, "AGE": 0.95, "PHONE": 0.95, "EMAIL": 1.0,
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


FRESH = CORPUS.parent / "fresh_2026-12-07.jsonl"
# 75 notes written on 2026-12-07 by someone who never saw the rules (README). Measured blind,
# before the rules saw them: NAME 0.97, DATE 0.98, AGE 0.91, PHONE 0.97, ID 0.82; the misses
# then added national ID names (PPSN, SNS, PESEL, Medicare no., health card), a run of digits
# before a full stop, "93 J." and phone extensions. Floors: what the rules reach now, less
# one span where a category has fewer than 50.
FRESH_MIN = {"NAME": 0.96, "DATE": 0.97, "AGE": 0.9, "PHONE": 0.97, "EMAIL": 0.9, "ID": 0.96}


def test_fresh_corpus_recall_per_category():
    rows = load_corpus(FRESH)
    assert (len(rows), sum(len(r["spans"]) for r in rows), sum(r["kind"] == "free" for r in rows)) \
        == (75, 250, 30)
    s = score(find_phi, rows)
    for cat, floor in FRESH_MIN.items():
        assert s.recall(cat) >= floor, (cat, s.recall(cat), s.missed)
    free = [r for r in rows if r["kind"] == "free"]
    assert [r["id"] for r in free if scrub(r["text"])[0] != r["text"]] == []
    assert s.cut == 0


FRESH_B = CORPUS.parent / "fresh_2026-12-07b.jsonl"
# 80 notes by a third writer, blind to the rules and both corpora. Blind: NAME 0.86, DATE 0.95,
# AGE 0.67, PHONE 0.95, ID 0.80, 3/30 PHI-free notes changed. Its misses then added ages in
# 12 more languages and handover forms ("93F", "M/92", "He is 91 and"), ID names of 15 more
# countries and value shapes, drug and billing codes that are not phones. Floors: now, less
# one span; names and PHI-free notes stay where they were measured (not met: docs/curation.md).
FRESH_B_MIN = {"NAME": 0.85, "DATE": 0.94, "AGE": 0.98, "PHONE": 0.95, "ID": 0.96}


def test_third_corpus_recall_per_category():
    rows = load_corpus(FRESH_B)
    assert (len(rows), sum(len(r["spans"]) for r in rows)) == (80, 314)
    s = score(find_phi, rows)
    for cat, floor in FRESH_B_MIN.items():
        assert s.recall(cat) >= floor, (cat, s.recall(cat), s.missed)
    changed = [r["id"] for r in rows if r["kind"] == "free" and scrub(r["text"])[0] != r["text"]]
    assert changed == ["freshb-018", "freshb-065"]  # "Hoehn y Yahr", "Nil By Mouth" read as names
    assert s.cut == 0


@pytest.mark.parametrize("text, kind, found", [
    ("Ασθενής: Γεώργιος Παπαδόπουλος, 93 ετών, ΑΜΚΑ", "AGE", "93"),
    ("пациентка Иванова, 96 лет, СНИЛС 112-233-445 95", "AGE", "96"),
    ("fall at home; 93F, lives alone.", "AGE", "93F"),  # widened to the whole word
    ("MRN#00482913, M/92, fall", "AGE", "92"),
    ("last admitted March 2023. He is 91 and lives alone", "AGE", "91"),
    ("Patient CHAN Tai Man, HKID K482913(5), 92歲, admitted", "ID", "K482913(5)"),
    ("DNI 4.567.890, de 98 años", "ID", "4.567.890"),
    ("Wiremu Te Rangi, NHI ZAC5361, 91M, for review", "ID", "ZAC5361"),
    ("Tel. +49 30 1234567.", "PHONE", "+49 30 1234567"),  # a 7-digit subscriber group
    ("Call (617) 555-0142 ext. 2204 today.", "PHONE", "(617) 555-0142 ext. 2204"),
    ("Pedro Sánchez-Villalobos, 97, was visited at home.", "AGE", "97"),
    ("Frau Ingrid Schröder, 93 J., Aufnahme", "AGE", "93"),
    ("PESEL 44051401359.", "ID", "44051401359"),
    ("SNS number 287654321, admitted", "ID", "287654321"),
    ("Medicare no. 2123 45670 1 was", "ID", "2123 45670 1"),
    ("Health card TREM 3205 1524.", "ID", "TREM 3205 1524"),
])
def test_rules_found_by_the_fresh_notes(text, kind, found):
    assert (found, kind) in [(text[a:b], k) for a, b, k in find_phi(text)]


@pytest.mark.parametrize("text", [
    "Values 12, 95, 98 were recorded.",       # a list of numbers, not an age after a name
    "Glucose 7.2 mmol/L, HbA1c 12345678.5",   # a decimal is not an ID
    "Dose 5 x 2 tablets; 2 weeks, 3 x daily.",
    "Hb 13.2 g/dL, platelets 245 x10^9/L, INR 2.3.",
    "Temp: 99 F, pulse 88.",                  # Fahrenheit, not a 99-year-old woman
    "Febrile, 101F overnight; SpO2 is 93 on air",
    "Ozempic 0.5 mg; NDC 0169-4132-12.",      # a drug code, not a phone
])
def test_rules_found_by_the_fresh_notes_leave_clinical_numbers(text):
    assert find_phi(text) == []


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
