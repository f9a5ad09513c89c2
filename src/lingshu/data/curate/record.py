"""One sample as it flows through a curation recipe.

A ``Record`` is a conversation in the training format (Qwen-messages, CONTRACTS point 2)
plus what curation needs to decide about it: the input it came from (``source``), the
dataset it belongs to (dedup scope), its ``task`` (caption / vqa / dialogue / text ...: the
token bounds apply to captions only, BRIEF §3), a ``modality`` label and per-op ``stats``.
Image parts hold absolute paths while curating; the writer rewrites them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lingshu.inference import conversation as one_turn


@dataclass
class Record:
    id: str
    source: str
    messages: list[dict[str, Any]]
    dataset: str = ""
    task: str = "vqa"
    modality: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    # ---- views ---------------------------------------------------------------------
    def images(self) -> list[str]:
        return [
            part["image"]
            for msg in self.messages
            if isinstance(msg.get("content"), list)
            for part in msg["content"]
            if part.get("type") == "image"
        ]

    def texts(self, role: str | None = None) -> list[str]:
        out = []
        for msg in self.messages:
            if role is not None and msg.get("role") != role:
                continue
            content = msg.get("content")
            if isinstance(content, str):
                out.append(content)
            else:
                out.extend(p.get("text", "") for p in content if p.get("type") == "text")
        return out

    def text(self, role: str | None = None) -> str:
        return "\n".join(t for t in self.texts(role) if t)

    def replace_images(self, mapping: dict[str, str]) -> None:
        for msg in self.messages:
            if isinstance(msg.get("content"), list):
                for part in msg["content"]:
                    if part.get("type") == "image" and part["image"] in mapping:
                        part["image"] = mapping[part["image"]]

    def map_texts(self, fn) -> None:  # noqa: ANN001 - fn(str) -> str
        for msg in self.messages:
            content = msg.get("content")
            if isinstance(content, str):
                msg["content"] = fn(content)
            elif isinstance(content, list):
                for part in content:
                    if part.get("type") == "text":
                        part["text"] = fn(part.get("text", ""))

    # ---- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        return cls(**d)


def conversation(
    question: str, answer: str, images: list[str] | tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """A one-turn Qwen-messages conversation: images first, then the question."""
    return one_turn(question, answer, images)


def exclusion(
    rec: Record, op: str, reason: str, statistic: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A row of the exclusions file: which sample, which op, what it measured, why.
    A synthesised sample's row says so (``synthesised: true``), so that the summary counts
    what was read apart from what the run made."""
    row = {
        "id": rec.id,
        "source": rec.source,
        "dataset": rec.dataset,
        "op": op,
        "reason": reason,
        "statistic": statistic or {},
    }
    if rec.meta.get("synthesis"):
        row["synthesised"] = True
    return row
