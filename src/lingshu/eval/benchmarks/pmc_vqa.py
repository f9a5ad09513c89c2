"""PMC-VQA: four-option questions on figures from PubMed Central papers.

Paper: Zhang et al., "PMC-VQA: Visual Instruction Tuning for Medical Visual Question
Answering", arXiv 2305.10415. Release: Hugging Face xmcmic/PMC-VQA, mirrored as
RadGenome/PMC-VQA (CC BY-SA per the card). Lingshu (like MedEvalKit) evaluates
``test_2.csv``, the 2,000-question test set of version 2 (non-compound figures).

Columns of ``test_2.csv``: ``index, Figure_path, Caption, Question, Choice A .. Choice D,
Answer, split``, where ``Answer`` is the gold letter. Version 1 files (``test_clean.csv``,
``--split test_clean``) have ``Answer`` as text plus ``Answer_label`` (the letter). Choice
cells carry their letter ("A:Diffuse uptake pattern"); the prefix is removed. Images are
looked up in ``figures/``, ``images_2/``, ``images/`` (wherever the release's zip was
extracted). Ids are the CSV's ``index`` column (unnamed in some copies; the data row number
when it is absent).
PMC-VQA provides no category labels. The cells as written (some with surrounding spaces,
" A:CT scan ") are kept in ``raw_options``: MedEvalKit sends and scores those.
"""

from __future__ import annotations

import re
from pathlib import Path

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import iter_csv, require
from lingshu.eval.benchmarks._multimodal import check_unique_ids, is_within, lexical_path, text
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

LETTERS = ("A", "B", "C", "D")
CSV_NAMES = {"test_2": ("test_2.csv", "test2.csv"), "test_clean": ("test_clean.csv",)}
IMAGE_DIRS = {"test_2": ("figures", "images_2", "images"), "test_clean": ("images", "figures")}
_LETTER_PREFIX = re.compile(r"^\s*([A-D])\s*[:.)]\s*")


@BENCHMARKS.register("pmc-vqa")
class PmcVqa(Benchmark):
    name = "pmc-vqa"
    version = "2"  # 2: raw_options (the CSV's option cells as written)
    modality = "multimodal"
    source = "Hugging Face RadGenome/PMC-VQA (= xmcmic/PMC-VQA): test_2.csv + images_2.zip"
    license = "CC BY-SA (dataset card); source papers are CC0 / CC BY (PMC OA commercial subset)"
    split = "test_2 set (version 2, non-compound figures)"
    splits = ("test_2", "test_clean")
    expected_count = 2000
    layout = """
pmc-vqa/
  test_2.csv                     (or test2.csv; test_clean.csv for --split test_clean)
  figures/PMC*.jpg               (the extracted image zip; images_2/ or images/ also work)
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        path = next((root / n for n in CSV_NAMES[split] if (root / n).is_file()), None)
        if path is None:
            raise DataError(
                f"{root}: no {' or '.join(CSV_NAMES[split])} found; expected {self.layout_hint()}"
            )
        image_dirs = [root / d for d in IMAGE_DIRS[split] if (root / d).is_dir()]
        if not image_dirs:
            raise DataError(
                f"{root}: no image folder ({', '.join(IMAGE_DIRS[split])}); extract the "
                "release's image zip there"
            )
        samples = [self._sample(row, n, path, image_dirs) for n, row in iter_csv(path)]
        check_unique_ids(samples, str(path))
        return self.check_count(samples, split)

    def _sample(self, row: dict, n: int, path: Path, image_dirs: list[Path]) -> Sample:
        where = f"{path}: row {n}"
        require(row, ("Figure_path", "Question", "Answer"), where)
        options: dict[str, str] = {}
        for letter in LETTERS:
            cell = text(row.get(f"Choice {letter}"))
            match = _LETTER_PREFIX.match(cell)
            if match and match.group(1) == letter:
                cell = cell[match.end() :].strip()
            if cell:
                options[letter] = cell
        if len(options) < 2:
            raise DataError(f"{where}: fewer than two non-empty 'Choice A..D' cells")
        gold = self._gold(row, options, where)
        figure = text(row["Figure_path"])
        candidates = [lexical_path(d / figure) for d in image_dirs]
        if not is_within(candidates[0], path.parent):  # refused by check_count, never stat-ed
            found: Path | None = candidates[0]
        else:
            found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            tried = ", ".join(str(d / figure) for d in image_dirs)
            raise DataError(
                f"{where}: image file not found: {figure!r} (looked for {tried}); extract "
                "the release's image zip completely"
            )
        return Sample(
            id=text(row.get("index") or row.get("")) or str(n - 1),
            benchmark=self.name,
            task="mcq",
            question=text(row["Question"]),
            answer=gold,
            options=options,
            images=(str(found),),
            raw_options={letter: row.get(f"Choice {letter}") or "" for letter in LETTERS},
        )

    @staticmethod
    def _gold(row: dict, options: dict[str, str], where: str) -> str:
        """The gold letter: ``Answer_label`` (v1), a letter in ``Answer`` (v2), or the option
        whose text equals ``Answer``."""
        label = text(row.get("Answer_label")).upper()
        answer = text(row["Answer"])
        match = _LETTER_PREFIX.match(answer)
        if label in options:
            return label
        if answer.upper() in options:
            return answer.upper()
        if match and match.group(1) in options:
            return match.group(1)
        for letter, option in options.items():
            if option.casefold() == answer.casefold():
                return letter
        raise DataError(
            f"{where}: gold answer {answer!r} is neither a letter of the options "
            f"{list(options)} nor the text of one of them"
        )
