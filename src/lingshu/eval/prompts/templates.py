"""Prompt wording, versioned, in one place.

A ``PromptSet`` is the wording a profile uses for one language: one template per question
kind (multiple choice, yes/no, closed short answer, open) plus how an option line and a
context look. Templates are ``str.format`` strings over ``{question}``, ``{options}``,
``{context}``, ``{letter}``, ``{text}``. Changing any wording means a new ``version`` (it is
part of the profile version and therefore of every cache key).

MedEvalKit's wording is reproduced as published in its ``utils/question_formats.py``
(English and Chinese, direct and reasoning variants; BRIEF §4), including its quirks: the
multiple-choice prompt starts with a newline and has a space after "Options:", and
"(no extra output)" follows "'no'" without a space. Its option lines differ between
benchmarks (``MEDEVALKIT_OPTION_LINES``) and MMMU uses MMMU's own layout
(``MEDEVALKIT_MMMU``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

REPORT_PROMPT = (
    "You are a helpful assistant. Please generate a report for the given images, including "
    "both findings and impressions. Return the report in the following format: "
    "Findings: {} Impression: {}."
)
"""MedEvalKit's report-generation prompt (BRIEF §4); the ``{}`` are literal."""


@dataclass(frozen=True)
class PromptSet:
    version: str
    mcq: str  # {question} {options}
    option_line: str  # {letter} {text}
    context: str  # {context}; put before the multiple-choice prompt when a sample has one
    yes_no: str  # {question}
    closed: str  # {question}
    open: str  # {question}

    def options_block(self, options: Mapping[str, str], option_line: str | None = None) -> str:
        line = option_line or self.option_line
        return "\n".join(line.format(letter=k, text=v) for k, v in options.items())

    def render_mcq(
        self,
        question: str,
        options: Mapping[str, str],
        context: str | None = None,
        option_line: str | None = None,
    ) -> str:
        body = self.mcq.format(question=question, options=self.options_block(options, option_line))
        return (self.context.format(context=context) if context else "") + body


# ---- strict ---------------------------------------------------------------------------------
# MedEvalKit's instructions where they are clear, so that the two profiles differ in scoring
# rather than in what the model is asked; without its stray leading newline and trailing
# space, with one option-line style ("A. text") for every benchmark, and a yes/no
# instruction that reads as a sentence.

STRICT_EN = PromptSet(
    version="strict-en-1",
    mcq=(
        "Question: {question}\nOptions:\n{options}\n"
        "Answer with the option's letter from the given choices directly."
    ),
    option_line="{letter}. {text}",
    context="Context: {context}\n",
    yes_no="{question}\nAnswer with 'yes' or 'no' only.",
    closed="{question}\nAnswer the question using a single word or phrase.",
    open="{question}\nPlease answer the question concisely.",
)

STRICT_ZH = PromptSet(
    version="strict-zh-2",
    mcq="问题：{question}\n选项：\n{options}\n请直接使用给定选项中的选项字母来回答该问题。",
    option_line="{letter}. {text}",
    context="背景：{context}\n",
    yes_no="{question}\n请只回答'是'或'否'。",
    closed="{question}\n请用一个单词或者短语回答该问题。",
    open="{question}\n请简要回答该问题。",
)

STRICT_ZH_FORMS = "{question}\n请只回答'{yes}'或'{no}'。"
"""Chinese polar questions whose gold is in a yes / no family other than 是 / 否 (包含 /
不包含, 有 / 没有, 可以 / 不可以, 健康 / 不健康, 是的 / 不是 ...): the prompt asks for the family's
two forms (``lingshu.eval.scoring.chinese.gold_form_pair``), so that an obedient answer is
in the gold's own form. It names both forms, never which one is right. Added with
``strict-zh-2``."""

# ---- MedEvalKit -----------------------------------------------------------------------------

MEDEVALKIT_EN = PromptSet(
    version="medevalkit-en-1",
    mcq=(
        "\nQuestion: {question}\nOptions: \n{options}\n"
        "Answer with the option's letter from the given choices directly."
    ),
    option_line="{letter}. {text}",
    context="Context: {context}\n",
    yes_no="{question}\nPlease output 'yes' or 'no'(no extra output).",
    closed="{question}\nAnswer the question using a single word or phrase.",
    open="{question}\nPlease answer the question concisely.",
)

MEDEVALKIT_EN_REASONING = PromptSet(
    version="medevalkit-en-reasoning-1",
    mcq=(
        "\nQuestion: {question}\nOptions: \n{options}\n"
        "Answer with the option's letter from the given choices and put the letter in one "
        '"\\boxed{{}}".'
    ),
    option_line="{letter}. {text}",
    context="Context: {context}\n",
    yes_no='{question}\nPlease output "yes" or "no" and put the answer in one "\\boxed{{}}".',
    closed=(
        "{question}\nAnswer the question using a single word or phrase and put the answer in "
        'one "\\boxed{{}}".'
    ),
    open=(
        '{question}\nPlease answer the question concisely and put the answer in one '
        '"\\boxed{{}}".'
    ),
)

MEDEVALKIT_ZH = PromptSet(
    version="medevalkit-zh-1",
    mcq="\n问题： {question}\n选项： \n{options}\n请直接使用给定选项中的选项字母来回答该问题。",
    option_line="{letter}. {text}",
    context="Context: {context}\n",
    yes_no="{question}\n请输出'是'或'否'(不要有任何其它输出)。",
    closed="{question}\n请用一个单词或者短语回答该问题。",
    open="{question}\n请简要回答该问题。",
)

MEDEVALKIT_ZH_REASONING = PromptSet(
    version="medevalkit-zh-reasoning-1",
    mcq=(
        "\n问题： {question}\n选项： \n{options}\n"
        '请直接使用给定选项中的选项字母来回答该问题,并将答案包裹在"\\boxed{{}}"里'
    ),
    option_line="{letter}. {text}",
    context="Context: {context}\n",
    yes_no="{question}\n请输出'是'或'否'，并将答案放在一个'\\boxed{{}}'中。",
    closed="{question}\n请用一个单词或者短语回答该问题，并将答案放在一个'\\boxed{{}}'中。",
    open="{question}\n请简要回答该问题，并将答案放在一个'\\boxed{{}}'中。",
)

MEDEVALKIT_OPTION_LINES: dict[str, str] = {
    "pubmedqa": "{letter}.{text}",
    "mmlu-med": "{letter}.{text}",
    "supergpqa-med": "{letter}.{text}",
    "medbullets-op4": "{letter}.{text}",
    "medbullets-op5": "{letter}.{text}",
    "pmc-vqa": "{letter}:{text}",  # the CSV cells as released ("A:Diffuse uptake pattern")
}
"""Option-line style per benchmark in MedEvalKit's loaders; every other benchmark (MedQA,
MedMCQA, OmniMedVQA, MedXpertQA) uses ``"{letter}. {text}"``. MMLU's loader at MedEvalKit
HEAD crashes before building a prompt (BRIEF §4); the style is the one its code intends."""


@dataclass(frozen=True)
class MmmuTemplates:
    """MMMU's own prompt layout, which MedEvalKit uses for MMMU-Med: the question, a blank
    line, ``(A) option`` lines, then the instruction after a blank line and eight spaces (an
    indented triple-quoted string in the original)."""

    version: str
    mcq: str  # {question} {options}
    option_line: str
    open: str  # {question}

    def render_mcq(self, question: str, options: Mapping[str, str]) -> str:
        lines = (self.option_line.format(letter=k, text=v) + "\n" for k, v in options.items())
        block = "".join(lines)
        return self.mcq.format(question=question, options=block)


MEDEVALKIT_MMMU = MmmuTemplates(
    version="medevalkit-mmmu-1",
    mcq=(
        "\n{question}\n\n{options}\n\n        "
        "Answer with the option's letter from the given choices directly."
    ),
    option_line="({letter}) {text}",
    open="\n{question}\n\n        Answer the question using a single word or phrase.",
)

MEDEVALKIT_MMMU_REASONING = MmmuTemplates(
    version="medevalkit-mmmu-reasoning-1",
    mcq=(
        "\n{question}\n\n{options}\n\n        Answer with the option's letter from the given "
        'choices and put the letter in one "\\boxed{{}}".'
    ),
    option_line="({letter}) {text}",
    open=(
        "\n{question}\n\n        Answer the question using a single word or phrase and put "
        'the answer in one "\\boxed{{}}".'
    ),
)
