"""PathVQA: questions on pathology images from two textbooks and the PEIR library.

Paper: He et al., "PathVQA: 30000+ Questions for Medical Visual Question Answering",
arXiv 2003.10286. Loaded from the Hugging Face export flaviagiammarino/path-vqa (MIT per its
card; image copyrights stay with the textbooks' publishers and PEIR): parquet files (or a
``save_to_disk`` folder) with columns image, question, answer; splits train (19,654),
validation (6,259), test (6,719).

The export has no answer-type column. Its card (like the PathVQA paper) splits questions
into open-ended ones and binary "yes/no" ones, so ``answer_type`` is ``closed`` iff the gold
answer is yes/no (3,362 of the 6,719 test questions). Ids are ``<split>-<row index>`` over
the split's files in name order.

The original release (``qas/test/test_qa.pkl``) is a Python pickle: it is detected and
refused, never loaded.
"""

from __future__ import annotations

from pathlib import Path

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._multimodal import (
    check_unique_ids,
    hf_rows,
    hf_vqa_samples,
    refuse_pickles,
)
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample


@BENCHMARKS.register("pathvqa")
class PathVqa(Benchmark):
    name = "pathvqa"
    version = "1"
    modality = "multimodal"
    source = "Hugging Face export flaviagiammarino/path-vqa (of github.com/UCSD-AI4H/PathVQA)"
    license = "MIT (dataset card); image copyrights belong to the textbooks' publishers and PEIR"
    split = "test split (3,362 of its questions are yes/no)"
    splits = ("test", "validation", "train")
    expected_count = 6719
    layout = """
pathvqa/
  data/test-*.parquet            (Hugging Face export flaviagiammarino/path-vqa:
  data/validation-*.parquet       columns image, question, answer)
  data/train-*.parquet
or a save_to_disk folder of that export. The original release's qas/*.pkl files are pickles
and are refused.
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        rows = hf_rows(root, split)
        if rows is None:
            refuse_pickles(
                root,
                "download the Hugging Face export flaviagiammarino/path-vqa (parquet) into "
                f"{root}/ instead (`lingshu benchmarks info {self.name}`)",
            )
            raise DataError(f"{root}: no Hugging Face export found; expected {self.layout_hint()}")
        samples = hf_vqa_samples(self.name, root, rows, split, label="")
        check_unique_ids(samples, str(root))
        return self.check_count(samples, split)
