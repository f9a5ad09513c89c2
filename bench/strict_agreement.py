"""Agreement of the scoring profiles with a careful grader on labelled responses.

Why: the strict profile claims to grade as a careful human would (credit by meaning, no
credit for hedges, contradictions or changed answers); this measures that claim on
``tests/golden/strict_labelled.jsonl``, responses written without looking at the rules, each
labelled correct / wrong / invalid by a grader, with real golds from the bundled SLAKE
(English and Chinese), VQA-RAD and MMLU samples.

Two figures per profile:
- ``label``: the verdict's class (invalid, else correct / wrong) equals the grader's label.
  MedEvalKit never says invalid, so its invalid-labelled cases count as disagreements here.
- ``credit``: the verdict credits the response exactly when the grader does (wrong and
  invalid both earn nothing): the accuracy-relevant agreement, fair to a profile without
  an invalid class.

``tests/golden/strict_heldout.jsonl`` holds responses written after the rules of issue 21
and never used to change them: its figure is the held-out one.

    PYTHONPATH=src python bench/strict_agreement.py [--show-disagreements]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from lingshu.eval import Sample, get_profile

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
LABELLED = GOLDEN / "strict_labelled.jsonl"
HELDOUT = GOLDEN / "strict_heldout.jsonl"


def load_cases(path: Path = LABELLED) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def case_sample(case: dict) -> Sample:
    return Sample(
        id=case["id"],
        benchmark=case["benchmark"],
        task=case["kind"],
        question=case["question"],
        answer=case["gold"],
        options=case["options"],
        answer_type=case["answer_type"],
    )


def verdict_label(profile_name: str, case: dict) -> str:
    v = get_profile(profile_name).score(case_sample(case), case["response"])
    return "invalid" if v.invalid else "correct" if v.correct else "wrong"


def agreement(profile_name: str, cases: list[dict]) -> tuple[int, int, list[tuple[dict, str]]]:
    label = credit = 0
    misses = []
    for case in cases:
        got = verdict_label(profile_name, case)
        label += got == case["label"]
        credit += (got == "correct") == (case["label"] == "correct")
        if got != case["label"]:
            misses.append((case, got))
    return label, credit, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-disagreements", action="store_true")
    args = parser.parse_args()
    for path in (LABELLED, HELDOUT):
        cases = load_cases(path)
        langs = dict(Counter(c["lang"] for c in cases))
        labels = dict(Counter(c["label"] for c in cases))
        print(f"{path.name}: {len(cases)} responses ({langs}; labels {labels})")
        for name in ("strict", "medevalkit"):
            label, credit, misses = agreement(name, cases)
            n = len(cases)
            print(f"  {name:<11} label agreement {label}/{n}  credit agreement {credit}/{n}")
            if args.show_disagreements:
                for case, got in misses:
                    print(f"      {case['id']} {case['question'][:40]!r} gold={case['gold']!r} "
                          f"resp={case['response']!r} grader={case['label']} {name}={got}")


if __name__ == "__main__":
    main()
