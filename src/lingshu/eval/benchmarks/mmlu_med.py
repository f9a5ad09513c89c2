"""MMLU-Med: the six medical subjects of MMLU (Hendrycks et al., 2021), as in Lingshu Table 3.

Source: the original release (``data.tar`` from people.eecs.berkeley.edu/~hendrycks, MIT), or
the Hugging Face dataset ``cais/mmlu``. The paper evaluates the six subjects' test CSVs:
1,089 questions. Every question has four options A-D and one gold letter.

Two subject lists: the paper's six (``SUBJECTS``, 1,089 test questions; the ``strict``
profile and every comparison with the paper) and MedEvalKit's nine (``MEDEVALKIT_SUBJECTS``:
the six plus nutrition, virology and high_school_biology, 1,871 test questions), which the
``medevalkit`` profiles load so that their numbers are MedEvalKit's (its
``utils/MMLU/MMLU.py`` list ``medical_subject``; docs/profiles.md row 26).

Sample ids are ``<subject>-<split>-<row>`` (0-based row within the subject's file), because
MMLU has no ids of its own; the Hugging Face export keeps the CSV order, so both layouts give
the same ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import find_hf_export, iter_csv, load_hf_rows
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)
MEDEVALKIT_SUBJECTS = (*SUBJECTS, "nutrition", "virology", "high_school_biology")
MEDEVALKIT_COUNT = 1871  # MMLU test sizes: the six (1,089) + 306 + 166 + 310
LETTERS = ("A", "B", "C", "D")
# Our split names follow the release's folders; cais/mmlu calls "val" "validation".
_HF_SPLIT = {"test": "test", "val": "validation", "dev": "dev"}


@BENCHMARKS.register("mmlu-med")
class MMLUMed(Benchmark):
    name = "mmlu-med"
    version = "1"
    modality = "text"
    source = (
        "MMLU (Hendrycks et al.): data.tar from people.eecs.berkeley.edu/~hendrycks/data.tar, "
        "or the Hugging Face dataset cais/mmlu; subjects " + ", ".join(SUBJECTS)
    )
    license = "MIT"
    split = "test split of the six medical subjects"
    splits = ("test", "val", "dev")
    expected_count = 1089
    layout = """
mmlu-med/
  test/<subject>_test.csv      one CSV per subject, no header: question,A,B,C,D,answer
  val/<subject>_val.csv        (optional, --split val)
  dev/<subject>_dev.csv        (optional, --split dev; the 5-shot examples)
  (a data/ parent folder, as data.tar ships it, is accepted too)
subjects: anatomy, clinical_knowledge, college_biology, college_medicine, medical_genetics,
professional_medicine (--profile medevalkit also needs nutrition, virology,
high_school_biology: MedEvalKit's nine)
or a Hugging Face export of cais/mmlu (parquet files, e.g. anatomy/test-*.parquet, or a
save_to_disk folder) with columns question, subject, choices, answer
"""

    subjects: tuple[str, ...] = SUBJECTS

    def for_profile(self, profile: str) -> Benchmark:
        """MedEvalKit's nine subjects for the ``medevalkit`` profiles, the paper's six
        otherwise (module docstring)."""
        if not profile.startswith("medevalkit"):
            return self
        kit = MMLUMed()
        kit.subjects = MEDEVALKIT_SUBJECTS
        kit.version = f"{self.version}+medevalkit-subjects"
        kit.expected_count = MEDEVALKIT_COUNT
        kit.split = "test split of MedEvalKit's nine medical subjects"
        return kit

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        # A save_to_disk export also has a test/ folder (of .arrow files): look for CSVs.
        csv_dir = next(
            (d for d in (root / split, root / "data" / split) if any(d.glob("*.csv"))), None
        )
        if csv_dir is not None:
            samples = self._from_csv(csv_dir, split)
        elif (export := find_hf_export(root)) is not None:
            samples = self._from_hf(export, split)
        else:
            raise DataError(
                f"{root}: no {split}/ folder of subject CSVs and no Hugging Face export; "
                f"expected {root}/{split}/<subject>_{split}.csv for each of "
                f"{', '.join(self.subjects)} (extract data.tar from the MMLU release)"
            )
        return self.check_count(samples, split)

    def _from_csv(self, csv_dir: Path, split: str) -> list[Sample]:
        files = {s: csv_dir / f"{s}_{split}.csv" for s in self.subjects}
        missing = [str(p.name) for p in files.values() if not p.is_file()]
        if missing:
            raise DataError(
                f"{csv_dir}: missing {', '.join(missing)}; MMLU-Med needs all "
                f"{len(self.subjects)} subject files{self._whose()} (partial copies give "
                "results that cannot be compared)"
            )
        samples: list[Sample] = []
        for subject, path in files.items():
            for index, (rowno, cells) in enumerate(iter_csv(path, header=False)):
                where = f"{path}: row {rowno}"
                row = cast(list[str], cells)  # header=False yields lists
                if len(row) != 6:
                    raise DataError(
                        f"{where}: expected 6 columns (question,A,B,C,D,answer), got "
                        f"{len(row)}; re-extract the file from the MMLU release"
                    )
                question, *options, answer = row
                samples.append(_sample(subject, split, index, question, options, answer, where))
        return samples

    def _from_hf(self, export: Path, split: str) -> list[Sample]:
        hf_split = _HF_SPLIT[split]
        subject_dirs = {s: export / s for s in self.subjects if (export / s).is_dir()}
        if subject_dirs:  # snapshot of cais/mmlu: one folder per subject config
            missing = [s for s in self.subjects if s not in subject_dirs]
            if missing:
                raise DataError(
                    f"{export}: Hugging Face export lacks subject folders {missing}; "
                    f"download all {len(self.subjects)} medical subjects of cais/mmlu"
                    f"{self._whose()}"
                )
            by_subject = {s: load_hf_rows(d, hf_split) for s, d in subject_dirs.items()}
        else:  # the "all" config (or a save_to_disk of it): filter by the subject column
            rows = load_hf_rows(export, hf_split)
            if rows and "subject" not in rows[0]:
                raise DataError(
                    f"{export}: Hugging Face rows have no 'subject' column; expected the "
                    "cais/mmlu columns question, subject, choices, answer"
                )
            by_subject = {s: [r for r in rows if r.get("subject") == s] for s in self.subjects}
        samples: list[Sample] = []
        for subject, rows in by_subject.items():
            for index, row in enumerate(rows):
                where = f"{export}: {subject} {hf_split} row {index}"
                for field in ("question", "choices", "answer"):
                    if row.get(field) is None:
                        raise DataError(
                            f"{where}: missing field {field!r}; expected the cais/mmlu "
                            "columns question, subject, choices, answer"
                        )
                answer = row["answer"]
                # cais/mmlu stores the gold as a class index 0-3; accept a letter as well.
                if isinstance(answer, int) and not isinstance(answer, bool):
                    answer = LETTERS[answer] if 0 <= answer < len(LETTERS) else str(answer)
                choices = list(row["choices"])
                samples.append(
                    _sample(subject, split, index, row["question"], choices, str(answer), where)
                )
        return samples


    def _whose(self) -> str:
        if self.subjects == SUBJECTS:
            return ""
        return (
            " (MedEvalKit's list, loaded by the medevalkit profiles; --profile strict uses "
            "the paper's six)"
        )


def _sample(
    subject: str,
    split: str,
    index: int,
    question: str,
    choices: list[str],
    answer: str,
    where: str,
) -> Sample:
    if len(choices) != len(LETTERS):
        raise DataError(f"{where}: expected 4 options (A-D), got {len(choices)}")
    gold = answer.strip().upper()
    if gold not in LETTERS:
        raise DataError(
            f"{where}: answer {answer!r} is not one of A, B, C, D; fix the row or "
            "re-download the release"
        )
    return Sample(
        id=f"{subject}-{split}-{index}",
        benchmark=MMLUMed.name,
        task="mcq",
        question=question,
        answer=gold,
        options=dict(zip(LETTERS, (str(c) for c in choices), strict=True)),
        categories={"subject": subject},
    )
