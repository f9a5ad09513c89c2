"""Regenerate the report-metric golden files with the reference implementation.

    .venv/bin/python tests/golden/reports/make_golden.py

Needs pycocoevalcap==1.2 (requirements/dev.txt) and Java. Reads the first 200 IU-Xray
reports (archive order) that have both FINDINGS and IMPRESSION, from the copy inside the
torchxrayvision package; findings are the "predictions", impressions the references.
Writes coco_iu200.json: the Java PTBTokenizer's token streams and pycocoevalcap's BLEU-1..4,
ROUGE-L, CIDEr-D and METEOR (corpus and per sample); and tokenizer_cases.json: the Java
tokenizer's output on hand-written hard cases and on a seeded random stress set.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from lingshu.eval.metrics.reports.corpus import findings_impression_pairs

HERE = Path(__file__).resolve().parent
N_PAIRS = 200

HARD_CASES = [
    "chest CT. Remainder of", "chest CT. remainder of", "the CT. 2. Otherwise", "prior Ct. No",
    "Dr. XXXX was", "e.g. there is", "i.e. this", "etc. The", "fig. 2 shows", "U.S. is", "A. B. C.",
    'He said "hello" and \'bye\' to them.', "It's the patient's can't won't don't I'm we'll they've she'd",
    "1/2 and 3 1/2 and 1-1/2", "$5.00 and #3 and 50% and 3:45 and 10,000 and -5 and +3",
    "(parenthesis) [bracket] {brace} <angle>", "well-defined -- dash --- triple - single ... ellipsis .. two",
    "Wait... what?! Really?? Yes!", "T12-L1 and L1-L2 and 8-12 and 1-XXXX and x-ray and X-ray",
    "a/b and AP/PA and and/or and 1/2/3", "email me@example.com or http://www.example.com/path. www.google.com",
    "colour favour behaviour centre", "&amp; & AT&T R&D", "\u201csmart quotes\u201d \u2018single\u2019 \u2014 em dash \u2013 en dash",
    "\u00b0C 37\u00b0 5\u00d73 \u00b12 \u2265 \u2264", "@user #tag", "pre- and post-operative", "the 2010s and '90s", "cont'd",
    "Mr. Smith and Mrs. Jones and St. Louis and Jan. 5", "3.5cm 3.5 cm 3.5-cm 3x4 3 x 4", "1.5. Next",
    "FINDINGS: Normal. IMPRESSION: None.", "a * b ** c", "x U.S. The end", "x C. The end", "x C. Xyz go",
    "x p.m. The end", "cannot Cannot gonna", "12 mm. Lungs", "normal.&gt;] Lung", "rock'n'roll 'tis",
    "x... y and ab... y", "(555) 123-4567", ":) :-( ;) :D", "", "   ", ".", "last CT.",
]


def _java_tokenize(lines: list[str]) -> list[str]:
    res = PTBTokenizer().tokenize({i: [{"caption": s}] for i, s in enumerate(lines)})
    return [res[i][0] for i in range(len(lines))]


def _stress_lines(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    frags = ("the Lungs CT Dr mm cm e.g i.e vs etc U.S p.m A x 1 12 3.5 .5 10,000 3:45 1/2 12/25/2019 +3 -2 "
             "100% 7th left-sided T12-L1 x-ray and/or AP/PA can't it's patient's cannot o'clock '90s "
             "www.nih.gov a@b.com <br> &amp; AT&T XXXX COPD x_y na\u00efve \u00b5m \u00d7 \u00b1 \u2265 \u00b0 \u00bd \u20ac \u2026 \u2013").split()
    puncts = list(".,;:?!()[]{}\"'`-/*+=<>%$#&@_~|^") + ["--", "...", "\u201c", "\u201d", "\u2019"]
    out = []
    for _ in range(n):
        s = ""
        for _ in range(rng.randint(1, 12)):
            t = rng.choice(frags) if rng.random() < 0.65 else rng.choice(puncts)
            if rng.random() < 0.25:
                t += "."
            s += t + rng.choice([" ", " ", " ", "  ", ""])
        out.append(s.strip())
    return out


def main() -> None:
    pairs = findings_impression_pairs()[:N_PAIRS]
    preds = [p[1] for p in pairs]
    refs = [p[2] for p in pairs]
    tok_p, tok_r = _java_tokenize(preds), _java_tokenize(refs)
    gts = {i: [r] for i, r in enumerate(tok_r)}
    res = {i: [p] for i, p in enumerate(tok_p)}
    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_per = Rouge().compute_score(gts, res)
    cider, cider_per = Cider().compute_score(gts, res)
    meteor, meteor_per = Meteor().compute_score(gts, res)
    golden = {
        "source": "torchxrayvision==1.5.7 data/NLMCXR_reports.tgz, first 200 reports with findings and impression",
        "reference": "pycocoevalcap==1.2 (Java PTBTokenizer, Bleu(4), Rouge, Cider, Meteor)",
        "ids": [p[0] for p in pairs],
        "predictions": preds,
        "references": refs,
        "tokenized_predictions": tok_p,
        "tokenized_references": tok_r,
        "corpus": {**{f"bleu{k + 1}": bleu[k] for k in range(4)}, "rouge_l": float(rouge),
                   "cider": float(cider), "meteor": float(meteor)},
        "per_sample": {**{f"bleu{k + 1}": [float(x) for x in bleu_per[k]] for k in range(4)},
                       "rouge_l": [float(x) for x in rouge_per], "cider": [float(x) for x in cider_per],
                       "meteor": [float(x) for x in meteor_per]},
    }
    (HERE / "coco_iu200.json").write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    stress = _stress_lines(20250609, 400)
    cases = {
        "hard_cases": HARD_CASES,
        "hard_cases_java": _java_tokenize(HARD_CASES),
        "stress": stress,
        "stress_java": _java_tokenize(stress),
    }
    (HERE / "tokenizer_cases.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(golden["corpus"], indent=1))


if __name__ == "__main__":
    main()
