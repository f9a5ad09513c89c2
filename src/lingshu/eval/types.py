"""The shapes that flow through an evaluation.

benchmark -> ``Sample`` -> profile -> ``Request`` (chat messages) -> backend -> ``Response``
-> scorer -> ``Verdict``. Everything here is plain data, JSON-serialisable, so per-sample
records, caches and merged shards all carry the same fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lingshu.inference import GenerationParams, Message, Request, Response

__all__ = [
    "AnswerType",
    "GenerationParams",
    "Message",
    "Request",
    "Response",
    "Sample",
    "Task",
    "Verdict",
]
# ``Message``, ``Request``, ``Response`` and ``GenerationParams`` belong to the inference
# layer (``lingshu.inference``); they are re-exported here because benchmark and prompt code
# speaks of them alongside ``Sample`` and ``Verdict``.

Task = Literal["mcq", "vqa", "report"]
"""``mcq``: choose one of ``options`` (gold is a letter). ``vqa``: free-form answer text.
``report``: generate a radiology report for ``images``; ``answer`` is the reference report
(MedEvalKit's reference form ``"Findings: {findings} Impression: {impression}."``) and the
sections are kept in ``categories``-independent ``sections`` for section-wise metrics."""

AnswerType = Literal["closed", "open"]
"""As the benchmark labels it (VQA-RAD/SLAKE/PathVQA ``answer_type``); never guessed from gold."""


@dataclass(frozen=True)
class Sample:
    """One benchmark item, independent of any prompt format.

    ``images`` are absolute paths to files on disk (loaders resolve them, and may extract
    embedded image bytes from Hugging Face exports into a cache folder). ``categories`` are
    the breakdown keys the benchmark provides (e.g. ``{"answer_type": "closed",
    "modality": "CT", "organ": "chest"}``); metrics are reported per key and value.
    """

    id: str
    benchmark: str
    task: Task
    question: str
    answer: str
    options: dict[str, str] = field(default_factory=dict)  # letter -> option text, in order
    images: tuple[str, ...] = ()
    context: str | None = None  # e.g. PubMedQA abstract
    answer_type: AnswerType | None = None
    categories: dict[str, str] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)  # report task: findings, impression
    # The release's option cells exactly as written (surrounding spaces, empty cells kept),
    # where they differ from ``options``; only profiles that reproduce another tool, which
    # sends them unchanged, read them (PMC-VQA's " A:CT scan ", OmniMedVQA's empty option_C).
    raw_options: dict[str, str] = field(default_factory=dict)
    # Why the sample must not be sent (an image path leading outside the benchmark folder);
    # the runner records it as the sample's error. None for every sound sample.
    refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["images"] = list(self.images)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        d = dict(d)
        d["images"] = tuple(d.get("images", ()))
        return cls(**d)


@dataclass(frozen=True)
class Verdict:
    """The score of one response.

    ``extracted`` is what the parser read from the response (a letter, "yes"/"no", or the
    answer text); ``invalid`` means nothing could be parsed (counted wrong, reported as the
    invalid rate). ``scores`` holds continuous metrics for open answers (exact_match,
    precision, recall, f1, bleu1..4, rouge_l) keyed by name.
    """

    correct: bool
    extracted: str | None
    invalid: bool = False
    scores: dict[str, float] = field(default_factory=dict)
    method: str = ""  # how the verdict was reached, e.g. "mcq-letter", "yesno", "open-recall"
