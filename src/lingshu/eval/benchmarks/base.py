"""What a benchmark is: a data layout, a split, a ``Sample`` per row, and a version.

A benchmark module subclasses ``Benchmark``, fills the class attributes (they feed
``lingshu benchmarks info``) and implements ``load``. ``load`` reads
``data_dir / <name>`` in the layout the public release ships (and, where one exists, a
Hugging Face export: parquet files or ``save_to_disk``) and returns the samples of the
paper's split. Bump ``version`` whenever the samples or their fields change: it is part of
every cache key, so stale cached answers are never reused.

A benchmark also declares its own generation defaults (``max_new_tokens``, ``stop``): the
runner asks the benchmark (``generation_defaults``), and a run's ``generation:`` settings
(``--max-new-tokens``, ``--stop``, a config file) override them. Both values are part of
every response-cache key, so a benchmark changes them only for a measured reason; each
override says why in its class.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

from lingshu.core.errors import DataError
from lingshu.core.logs import warn_once
from lingshu.core.registry import Registry
from lingshu.eval.types import Sample

log = logging.getLogger(__name__)


class Benchmark(ABC):
    name: ClassVar[str]
    version: ClassVar[str] = "1"
    modality: ClassVar[Literal["text", "multimodal"]]
    source: ClassVar[str]  # where the public release comes from
    license: ClassVar[str]
    split: ClassVar[str]  # which split the paper evaluates, in words
    splits: ClassVar[tuple[str, ...]] = ("test",)  # accepted --split values; first = paper's
    expected_count: ClassVar[int | None] = None  # the paper's sample count, when known
    layout: ClassVar[str]  # the expected files under DIR/<name>/, as shown to users
    max_new_tokens: ClassVar[int] = 256
    """Longest answer in new tokens unless the run sets one. 256, the kit's value since the
    first release (every cached answer was made with it): room for a sentence of rationale
    before a letter, a yes/no or a short phrase. Short-answer benchmarks keep it: the
    ``medevalkit-reasoning`` profile asks for reasoning before the boxed answer, and a
    lower cap would cut those answers (no response-length measurement says otherwise)."""
    stop: ClassVar[tuple[str, ...]] = ()
    """Stop strings unless the run sets them: none, since a blank line or "Question:" can
    come before the answer of a model that restates the question."""

    @abstractmethod
    def load(self, data_dir: Path, split: str | None = None) -> list[Sample]:
        """Return the samples of ``split`` (default: the paper's, ``splits[0]``) from
        ``data_dir / self.name``. Sample ids must be unique and stable across releases
        (prefer the dataset's own ids) because caches and resume key on them."""

    def generation_defaults(self) -> dict[str, Any]:
        """This benchmark's ``generation`` settings (overridden by the run's own)."""
        return {"max_new_tokens": self.max_new_tokens, "stop": tuple(self.stop)}

    def resolve_split(self, split: str | None) -> str:
        if split is None:
            return self.splits[0]
        if split not in self.splits:
            raise DataError(
                f"{self.name}: unknown split {split!r}; expected one of {list(self.splits)}"
            )
        return split

    @classmethod
    def description(cls) -> str:
        """What the benchmark is, for ``lingshu benchmarks info`` and docs/benchmarks.md:
        the class's own docstring, else its module's (every benchmark module opens with the
        dataset's paper, release and split). Never an inherited docstring: ``inspect.getdoc``
        would fall back to ``ABC``'s "Helper class that provides ..."."""
        doc = cls.__dict__.get("__doc__") or getattr(sys.modules.get(cls.__module__), "__doc__", "")
        return inspect.cleandoc(doc or "")

    # ---- helpers shared by all benchmarks -------------------------------------------

    def layout_hint(self) -> str:
        """For one-line errors: where the multi-line expected layout can be read."""
        return f"the layout shown by `lingshu benchmarks info {self.name}`"

    def root(self, data_dir: Path) -> Path:
        """``data_dir/<name>``, or a clear error saying what to put there."""
        root = Path(data_dir) / self.name
        self._image_roots = [root]  # for check_count's image-path guard
        if not root.is_dir():
            raise DataError(
                f"{root}: benchmark directory not found; put the {self.name} release files "
                f"there (layout and source: `lingshu benchmarks info {self.name}`)"
            )
        return root

    def check_count(self, samples: list[Sample], split: str | None = None) -> list[Sample]:
        """Warn when the split size differs from the paper's (partial copies, wrong split),
        and refuse, sample by sample, images outside the benchmark folder (see
        ``_multimodal``): such a sample keeps no image and carries ``refused``, which the
        runner records as the sample's error without sending anything."""
        roots = getattr(self, "_image_roots", None)
        if roots:
            samples = [self._guard(s, roots) for s in samples]
            refused = [s for s in samples if s.refused]
            if refused:  # said once a process: every evaluation of a run loads the same data
                warn_once(
                    log, (self.name, "refused", len(refused), refused[0].id),
                    "%s: %d sample(s) refused, e.g. %s: %s",
                    self.name, len(refused), refused[0].id, refused[0].refused,
                )  # fmt: skip
        if not samples:
            raise DataError(
                f"{self.name}: no samples found for the requested split; check the files "
                f"against `lingshu benchmarks info {self.name}`"
            )
        if (
            self.expected_count is not None
            and (split is None or split == self.splits[0])
            and len(samples) != self.expected_count
        ):
            warn_once(
                log, (self.name, "count", len(samples)),
                "%s: loaded %d samples, the paper's %s has %d; results are not comparable "
                "with published numbers",
                self.name,
                len(samples),
                self.split,
                self.expected_count,
            )
        return samples


    def for_profile(self, profile: str) -> Benchmark:
        """The benchmark as ``profile`` evaluates it (default: itself). A profile that
        reproduces another tool may need that tool's sample set: MedEvalKit's MMLU-Med has
        nine subjects where the paper has six (``mmlu_med``)."""
        return self

    def data_root(self, data_dir: Path) -> Path:
        """The folder whose files the run manifest records (``data_dir/<name>``)."""
        return Path(data_dir) / self.name

    def allow_images_under(self, folder: Path) -> None:
        """Accept images below ``folder`` too (a layout's declared image root, e.g. the
        ``image_root`` that ``lingshu data prepare`` writes into ``meta.json``)."""
        self._image_roots = [*getattr(self, "_image_roots", []), Path(folder)]

    @staticmethod
    def _guard(sample: Sample, roots: list[Path]) -> Sample:
        from lingshu.eval.benchmarks._multimodal import refusal

        if not sample.images:
            return sample
        reason = refusal(sample, roots)
        if reason is None:
            return sample
        return dataclasses.replace(sample, images=(), refused=reason)


BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark")


def get_benchmark(name: str) -> Benchmark:
    """A registered benchmark by name, or a user's file-described one (``custom:PATH.yaml``,
    see ``lingshu.eval.benchmarks.custom``)."""
    import lingshu.eval.benchmarks  # noqa: F401  (registers every module)

    if name.startswith("custom:"):
        from lingshu.eval.benchmarks.custom import load_custom

        return load_custom(name.removeprefix("custom:"))
    return BENCHMARKS.get(name)()
