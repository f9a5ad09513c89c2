"""GREEN (Generative Radiology Report Evaluation and Error Notation, Ostmeier et al. 2024).

A fine-tuned language model (``StanfordAIMI/GREEN-radllama2-7b`` and siblings) reads a
reference and a candidate report in a fixed prompt and writes an assessment listing, for
clinically significant and insignificant errors, the count of each of six error types, then
the number of matched findings. The score of one pair is::

    GREEN = matched / (matched + sum of the six clinically significant error counts)

and 0 when no finding matched. The corpus score is the mean over pairs.

Why our own code rather than the ``green-score`` package: its only release on PyPI requires
Python ==3.12.1 exactly (it cannot be installed beside our pinned 3.11 stack), it pulls in
sentence-transformers and scikit-learn to write a textual summary we do not need, and it
generates through ``model.generate`` without length sorting. The prompt, the decoding
(greedy, 2,048 prompt tokens at most, 2,048 new tokens at most) and the parsing rules
below reproduce the reference's, so scores are comparable:

- a category is the text after ``[<Category>]:`` up to the first blank line or the end;
  a missing category counts 0, and one whose text starts with "No" counts 0;
- an error line is ``(a) <type>: <count>. <errors>`` (or ``(1)``..``(6)``, which the GPT-4
  variant of the template writes); the count is the first integer preceded by ": " and
  followed by "."; when a letter appears on several lines the last one wins;
- matched findings: the integer that opens the category text, followed by ".".

The reference decodes prompt and completion together and cuts the completion out at the
``<|assistant|>`` marker and then after ``[Explanation]:``; we decode the completion alone,
which is the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingshu.eval.metrics.reports.base import (
    REPORT_METRICS,
    MetricResult,
    MetricUnavailable,
    ReportContext,
)
from lingshu.eval.metrics.reports.config import ReportMetricsConfig

SIGNIFICANT = "Clinically Significant Errors"
INSIGNIFICANT = "Clinically Insignificant Errors"
MATCHED = "Matched Findings"

ERROR_TYPES = (
    "False report of a finding in the candidate",
    "Missing a finding present in the reference",
    "Misidentification of a finding's anatomic location/position",
    "Misassessment of the severity of a finding",
    "Mentioning a comparison that isn't in the reference",
    "Omitting a comparison detailing a change from a prior study",
)
"""GREEN's six error types, (a) to (f)."""

MAX_PROMPT_TOKENS = 2048
"""The reference tokenizes with ``truncation=True, max_length=2048`` (the end is cut)."""

_I = "    "  # the prompt's lines are indented by four spaces, as the model was trained


def green_prompt(reference: str, candidate: str) -> str:
    """The GREEN prompt for one pair (the model was fine-tuned on exactly this text)."""
    letters = "abcdef"
    criteria = "\n".join(f"{_I}{ch}) {t}." for ch, t in zip(letters, ERROR_TYPES, strict=True))
    error_line = "({x}) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>"
    error_block = f"{_I}{error_line.format(x='a')}\n{_I}....\n{_I}{error_line.format(x='f')}"
    parts = [
        (
            "Objective: Evaluate the accuracy of a candidate radiology report in comparison to a "
            "reference radiology report composed by expert radiologists.\n\n"
        ),
        f"{_I}Process Overview: You will be presented with:\n\n",
        f"{_I}1. The criteria for making a judgment.\n",
        f"{_I}2. The reference radiology report.\n",
        f"{_I}3. The candidate radiology report.\n",
        f"{_I}4. The desired format for your assessment.\n\n",
        f"{_I}1. Criteria for Judgment:\n\n",
        f"{_I}For each candidate report, determine:\n\n",
        f"{_I}The count of clinically significant errors.\n",
        f"{_I}The count of clinically insignificant errors.\n\n",
        f"{_I}Errors can fall into one of these categories:\n\n",
        f"{criteria}\n",
        (
            f"{_I}Note: Concentrate on the clinical findings rather than the report's writing "
            "style. Evaluate only the findings that appear in both reports.\n\n"
        ),
        f"{_I}2. Reference Report:\n{_I}{reference}\n\n",
        f"{_I}3. Candidate Report:\n{_I}{candidate}\n\n",
        f"{_I}4. Reporting Your Assessment:\n\n",
        f"{_I}Follow this specific format for your output, even if no errors are found:\n",
        f"{_I}```\n",
        f"{_I}[Explanation]:\n{_I}<Explanation>\n\n",
        f"{_I}[{SIGNIFICANT}]:\n{error_block}\n\n",
        f"{_I}[{INSIGNIFICANT}]:\n{error_block}\n\n",
        (
            f"{_I}[{MATCHED}]:\n{_I}<The number of matched findings>. <Finding 1>; <Finding 2>; "
            "...; <Finding n>\n"
        ),
        f"{_I}```\n",
    ]
    return "".join(parts)


@dataclass(frozen=True)
class GreenCounts:
    """What one GREEN assessment says: error counts (a)..(f) and matched findings."""

    significant: tuple[int, ...]
    insignificant: tuple[int, ...]
    matched: int

    @property
    def score(self) -> float:
        """matched / (matched + significant errors); 0 when nothing matched."""
        if self.matched == 0:
            return 0.0
        return self.matched / (self.matched + sum(self.significant))


def clean_completion(text: str) -> str:
    """The assessment part of a completion: after ``[Explanation]:``, special-token debris
    (``</s>``, ``<unk>``) removed, as the reference cleans it."""
    if "<|assistant|>" in text:
        text = text.split("<|assistant|>")[-1]
    if "[Explanation]:" in text:
        text = text.split("[Explanation]:")[-1]
    return text.replace("</s>", "").replace("<unk>", "")


def _category_text(text: str, category: str) -> str | None:
    found = re.search(rf"\[{re.escape(category)}\]:\s*(.*?)(?:\n\s*\n|\Z)", text, re.DOTALL)
    return found.group(1) if found else None


def _error_counts(section: str | None) -> tuple[int, ...]:
    counts = [0] * len(ERROR_TYPES)
    if section is None or section.startswith("No"):
        return tuple(counts)
    lines = sorted(re.findall(r"\([a-f]\) .*", section))
    labels = [f"({ch}) " for ch in "abcdef"]
    if not lines:  # the GPT-4 variant numbers the types (1)..(6)
        lines = sorted(re.findall(r"\([1-6]\) .*", section))
        labels = [f"({k}) " for k in range(1, 7)]
    for position, label in enumerate(labels):
        for line in lines:
            if line.startswith(label):
                number = re.search(r"(?<=: )\b\d+\b(?=\.)", line)
                if number:
                    counts[position] = int(number.group())
    return tuple(counts)


def parse_assessment(text: str) -> GreenCounts:
    """Counts from one GREEN completion (raw or cleaned); never raises."""
    text = clean_completion(text)
    matched_text = _category_text(text, MATCHED)
    matched = 0
    if matched_text is not None and not matched_text.startswith("No"):
        first = re.match(r"\b\d+\b(?=\.)", matched_text)
        matched = int(first.group()) if first else 0
    return GreenCounts(
        significant=_error_counts(_category_text(text, SIGNIFICANT)),
        insignificant=_error_counts(_category_text(text, INSIGNIFICANT)),
        matched=matched,
    )


# ---- running the GREEN model -------------------------------------------------------------


def chat_messages(prompt: str) -> list[dict[str, str]]:
    """One user turn, keyed both ways: GREEN's RadLlama templates read ``from``/``value``,
    standard templates ``role``/``content``."""
    return [{"role": "user", "content": prompt, "from": "human", "value": prompt}]


def generate_assessments(
    loaded: Any, prompts: list[str], *, max_new_tokens: int, batch_size: int
) -> list[str]:
    """Greedy completions of ``prompts`` by a loaded causal LM (``lingshu.models``), in
    length-sorted batches through the inference engine (its fast text decoder)."""
    from lingshu.inference import EncodedPrompt, Engine, GenerationParams

    engine = Engine(loaded, max_batch_size=batch_size)
    tok = loaded.tokenizer
    encoded = []
    for prompt in prompts:
        text = engine.encoder.render(chat_messages(prompt)) if engine.encoder.templated else prompt
        # As the reference: special tokens added on top of the template, end truncated.
        encoded.append(EncodedPrompt.from_ids(tok(text).input_ids[:MAX_PROMPT_TOKENS]))
    results = engine.generate_many(encoded, GenerationParams(max_new_tokens=max_new_tokens))
    return [r.text for r in results]


class GreenMetric:
    description = 'GREEN: an LLM counts clinically significant errors against the reference (local weights).'
    keys = ("green",)

    def compute(self, ctx: ReportContext) -> MetricResult:
        from lingshu.core.errors import UserError
        from lingshu.models.loading import LoadOptions, load_model

        cfg = ReportMetricsConfig.coerce(ctx.config)
        where = cfg.weight("green")
        if not where:
            raise MetricUnavailable(
                "GREEN needs weights: download StanfordAIMI/GREEN-radllama2-7b and set "
                "weights.green: /path in --weights-config"
            )
        try:
            loaded = load_model(str(where), LoadOptions(device=cfg.device))
        except (UserError, OSError) as e:
            reason = str(e).splitlines()[0].split(" (")[0]  # the loader's first clause
            raise MetricUnavailable(
                f"GREEN: cannot load {where!r}: {reason}; download "
                "StanfordAIMI/GREEN-radllama2-7b and set weights.green: /path"
            ) from None
        if loaded.kind != "causal_lm":
            raise MetricUnavailable(
                f"GREEN: {where} is a {loaded.kind} model; weights.green must name a text-only "
                "GREEN model such as StanfordAIMI/GREEN-radllama2-7b"
            )
        prompts = [green_prompt(r, p) for r, p in zip(ctx.references, ctx.predictions, strict=True)]
        completions = generate_assessments(
            loaded, prompts, max_new_tokens=cfg.green_max_new_tokens, batch_size=cfg.batch_size
        )
        counts = [parse_assessment(c) for c in completions]
        per: dict[str, list] = {"green": [c.score for c in counts]}
        for k, letter in enumerate("abcdef"):
            per[f"green_significant_{letter}"] = [float(c.significant[k]) for c in counts]
        per["green_matched"] = [float(c.matched) for c in counts]
        return MetricResult(
            per, {"green": float(np.mean(per["green"]))}, ci_method={"green": "mean"}
        )


REPORT_METRICS.add("green", GreenMetric())
