"""lingshu-demo: organ and modality multiple choice on held-out real images.

The evaluation set of ``make demo`` (docs/pipeline.md): does a model trained by the Lingshu
pipeline on the bundled images recognise, on images it never saw, the body region (head /
chest / abdomen) and the imaging modality (CT / MRI / X-ray)? Every question offers all
three values of its label space in a shuffled order, so chance is 1/3.

Images: the VQA-RAD images (MedPix, CC0 1.0) of about 20% of MedPix cases, held out by
case (patient), and all 40 bundled SLAKE images (CC BY 4.0; SLAKE *test* images, which must
never train). Built by ``scripts/build_demo_bundle.py`` from ``data/demo/images.jsonl``;
the images are not copied: ``image`` paths are relative to the data directory and point
into the ``vqa-rad`` and ``slake`` benchmark folders beside this one.
"""

from __future__ import annotations

from pathlib import Path

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks._common import iter_jsonl, require
from lingshu.eval.benchmarks._multimodal import check_unique_ids, image_file, text
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.types import Sample

FIELDS = ("id", "question", "options", "answer", "image", "category")
IMAGE_ROOTS = ("vqa-rad", "slake")
"""The benchmark folders beside this one whose images the questions reference (declared
image roots: an image anywhere else is refused by the kit's image-path guard)."""


@BENCHMARKS.register("lingshu-demo")
class LingshuDemo(Benchmark):
    name = "lingshu-demo"
    version = "1"
    modality = "multimodal"
    source = "built in this repository: scripts/build_demo_bundle.py (VQA-RAD + SLAKE images)"
    license = "questions CC0 1.0; images VQA-RAD CC0 1.0, SLAKE CC BY 4.0"
    split = "test (155 questions on 101 held-out images)"
    splits = ("test",)
    expected_count = 155
    layout = """
lingshu-demo/
  test.jsonl   {"id", "question", "options": {"A": ..}, "answer": "A", "image", "category", "source", "group"}
               image: path relative to the data directory (e.g. "vqa-rad/VQA_RAD Image Folder/x.jpg")
vqa-rad/VQA_RAD Image Folder/   and   slake/imgs/   (the bundled benchmark folders)
"""

    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        split = self.resolve_split(split)
        root = self.root(data_dir)
        for folder in IMAGE_ROOTS:
            self.allow_images_under(Path(data_dir) / folder)
        path = root / f"{split}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: question file not found; expected {self.layout_hint()}")
        samples = []
        for lineno, row in iter_jsonl(path):
            where = f"{path}:{lineno}"
            require(row, FIELDS, where)
            options = row["options"]
            if not isinstance(options, dict) or row["answer"] not in options:
                raise DataError(
                    f"{where}: field 'answer' must be one of the option letters {list(options)}; "
                    f"got {row['answer']!r}"
                )
            samples.append(
                Sample(
                    id=text(row["id"]),
                    benchmark=self.name,
                    task="mcq",
                    question=text(row["question"]),
                    options={str(k): text(v) for k, v in options.items()},
                    answer=text(row["answer"]),
                    images=(image_file(Path(data_dir), text(row["image"]), where),),
                    categories={"question": text(row["category"]),
                                "source": text(row.get("source", ""))},
                )
            )
        check_unique_ids(samples, str(path))
        return self.check_count(samples, split)
