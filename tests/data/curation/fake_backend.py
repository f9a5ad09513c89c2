"""A deterministic test double of an inference backend for the synthesis ops.

It answers each prompt template by what the prompt contains, and counts calls so tests
can check that a rerun is served from the cache."""

from __future__ import annotations

import json
import re

from lingshu.inference import BACKENDS, Backend, BackendConfig, Response

CALLS: list[str] = []


def _text(req) -> str:
    return "\n".join(p.get("text", "") for m in req.messages for p in m["content"]
                     if p.get("type") == "text")


def reply(prompt: str) -> str:
    if "short caption for a medical image" in prompt:
        return "Axial CT of the abdomen."
    if "Describe the medical image factually" in prompt:
        return "Axial contrast CT of the abdomen with a hypodense liver lesion."
    if "specialist would" in prompt:
        checklist = re.search(r"checklist when the image shows it: (.*)\.", prompt).group(1)
        return f"Covers: {checklist}."
    if "Merge the two descriptions" in prompt:
        return "Axial contrast-enhanced CT of the abdomen showing a hypodense liver lesion."
    if "If the caption does not fit the image" in prompt:
        if "MISMATCH" in prompt:
            return "Error"
        return 'Sure: {"question": "Which organ has a lesion?", "answer": "liver", ' \
               '"wrong_answers": ["spleen", "kidney", "pancreas"]}'
    if "Solve the question step by step" in prompt:
        gold = re.search(r"Correct answer: (.*)", prompt).group(1)
        if "WRONG" in prompt:
            return json.dumps({"reasoning": "It must be something else.", "answer": "Z"})
        why = "This contradicts itself." if "INCONS" in prompt else "The lesion is hypodense."
        return json.dumps({"reasoning": why, "answer": gold})
    if "Does the reasoning below support" in prompt:
        return "inconsistent" if "contradicts" in prompt else "consistent"
    if "Answer the exam question" in prompt:
        letter = "B" if "pick B" in prompt else "A"
        return f"The first option fits best.\nAnswer: {letter}"
    if "Rewrite this patient-doctor dialogue" in prompt:
        return "patient: I have a cough.\ndoctor: Please see a clinician for an examination."
    return "unexpected prompt"


class FakeConfig(BackendConfig):
    tag: str = "v1"


class FakeBackend(Backend):
    """Registered only while a test uses it (``registered()``), so the package's backend
    list seen by other tests stays the four real ones."""

    name = "curate-fake"
    Config = FakeConfig

    def __init__(self, config: FakeConfig) -> None:
        self.config = config

    def fingerprint(self):
        return {"backend": "curate-fake", "tag": self.config.tag}

    def generate(self, requests, params):
        out = []
        for r in requests:
            CALLS.append(_text(r))
            out.append(Response(text=reply(_text(r))))
        return out


def registered(monkeypatch) -> None:
    """Put ``curate-fake`` in the backend registry for the current test only."""
    import lingshu.inference.backends  # noqa: F401  (the real ones first)

    monkeypatch.setitem(BACKENDS._items, FakeBackend.name, FakeBackend)
