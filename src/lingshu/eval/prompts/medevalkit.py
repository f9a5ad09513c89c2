"""The ``medevalkit`` profile: MedEvalKit's prompts and scoring, defects included, so that
published numbers can be reproduced and set beside ``strict``.

What it reproduces was read in MedEvalKit's code (alibaba-damo-academy/MedEvalKit
``utils/VQA_RAD``, ``utils/SLAKE``, and forks carrying the same ``utils/utils.py``,
``utils/question_formats.py``, ``PATH_VQA``, ``PubMedQA``, ``MedQA_USMLE``, ``MedMCQA``,
``OmniMedVQA``, ``PMC_VQA``, ``MedXpertQA``, ``SuperGPQA``, ``Medbullets_op4/5``, ``MMLU``
and ``MMMU/*``); this is our own reimplementation of that behaviour.

Prompts (``templates.MEDEVALKIT_*``): bare user turn, no system prompt. Multiple choice with
per-benchmark option lines (``MEDEVALKIT_OPTION_LINES``); PubMedQA prefixed with
``Context: ...`` (section labels such as ``BACKGROUND: `` dropped, as MedEvalKit's copy of
the data has none); PMC-VQA's option cells as the CSV writes them (" A:CT scan ", spaces
kept) and OmniMedVQA's empty ``option_C`` / ``option_D`` as lines "C. " / "D. " that count
as letters; MMMU-Med in MMMU's layout with only ``image_1``, also when the options
themselves are images. VQA-RAD / PathVQA closed and open sub-accuracies group by the gold
answer (``categories``). Free-form: for VQA-RAD and PathVQA the *gold answer*
chooses the yes/no prompt (gold yes/no) or the open prompt, a label leak kept only here;
for SLAKE and others the benchmark's ``answer_type`` chooses the open or the closed
(single word) prompt, so SLAKE's yes/no questions get the closed prompt. Chinese questions
get MedEvalKit's Chinese wording. ``medevalkit-reasoning`` asks for ``\\boxed{}`` answers.

Scoring is MedEvalKit's too, defects included; it lives in ``lingshu.eval.scoring.medevalkit``
(with what it reproduces, case by case). This module renders MCQ option lines for both the
prompt and the scorer, so the scorer compares with exactly what the model was shown.
"""

from __future__ import annotations

import re

from lingshu.eval.prompts.base import PROFILES, Profile
from lingshu.eval.prompts.strict import user_turn
from lingshu.eval.prompts.templates import (
    MEDEVALKIT_EN,
    MEDEVALKIT_EN_REASONING,
    MEDEVALKIT_MMMU,
    MEDEVALKIT_MMMU_REASONING,
    MEDEVALKIT_OPTION_LINES,
    MEDEVALKIT_ZH,
    MEDEVALKIT_ZH_REASONING,
    REPORT_PROMPT,
    MmmuTemplates,
    PromptSet,
)
from lingshu.eval.scoring import medevalkit as mek
from lingshu.eval.scoring.medevalkit import GOLD_DECIDES_PROMPT
from lingshu.eval.scoring.normalize import has_cjk
from lingshu.eval.types import Message, Sample, Verdict

_SECTION_LABEL = re.compile(r"^[A-Z][A-Z0-9 ,&/()'-]{0,60}:\s", re.MULTILINE)


@PROFILES.register("medevalkit")
class MedEvalKitProfile(Profile):
    name = "medevalkit"
    reasoning = False
    version = f"2+{MEDEVALKIT_EN.version}+{MEDEVALKIT_ZH.version}+{MEDEVALKIT_MMMU.version}"
    description = (
        "MedEvalKit's prompts and scoring, defects included (similarity guessing, substring "
        "yes/no, mislabelled P/R/F1), to reproduce published numbers."
    )

    def build_messages(self, sample: Sample) -> list[Message]:
        images = _mmmu_images(sample) if sample.benchmark == "mmmu-med" else sample.images
        return user_turn(images, self.prompt(sample))

    def prompt(self, sample: Sample) -> str:
        if sample.task == "report":
            return REPORT_PROMPT
        if sample.benchmark == "mmmu-med":
            mmmu: MmmuTemplates = MEDEVALKIT_MMMU_REASONING if self.reasoning else MEDEVALKIT_MMMU
            if sample.task == "mcq":
                return mmmu.render_mcq(sample.question, sample.options)
            return mmmu.open.format(question=sample.question)
        wording = self._wording(sample)
        if sample.task == "mcq":
            context = _SECTION_LABEL.sub("", sample.context) if sample.context else None
            options, line = _mcq_options(sample)
            return wording.render_mcq(sample.question, options, context, line)
        if sample.benchmark in GOLD_DECIDES_PROMPT:
            gold = sample.answer.lower() if GOLD_DECIDES_PROMPT[sample.benchmark] else sample.answer
            template = wording.yes_no if gold in ("yes", "no") else wording.open
        else:
            template = wording.open if sample.answer_type == "open" else wording.closed
        return template.format(question=sample.question)

    def categories(self, sample: Sample) -> dict[str, str]:
        """VQA-RAD and PathVQA: MedEvalKit's "close" / "open" sub-accuracies group by the
        gold answer (yes/no -> closed), not by the dataset's label; so does
        ``answer_type`` here, and the label is kept as ``dataset_answer_type``."""
        cats = dict(sample.categories)
        if sample.benchmark in GOLD_DECIDES_PROMPT and sample.task == "vqa":
            label = cats.get("answer_type", sample.answer_type)
            if label is not None:
                cats["dataset_answer_type"] = label
            closed = sample.answer.lower().strip() in ("yes", "no")
            cats["answer_type"] = "closed" if closed else "open"
        return cats

    def _wording(self, sample: Sample) -> PromptSet:
        keys = ("lang", "q_lang", "language")
        labels = [sample.categories[k] for k in keys if k in sample.categories]
        lang = labels[0] if labels else ("zh" if has_cjk(sample.question) else "en")
        if lang == "zh":
            return MEDEVALKIT_ZH_REASONING if self.reasoning else MEDEVALKIT_ZH
        return MEDEVALKIT_EN_REASONING if self.reasoning else MEDEVALKIT_EN

    def score(self, sample: Sample, response: str) -> Verdict:
        if sample.task == "mcq":
            if sample.benchmark == "mmmu-med":
                return mek.mmmu_choice_verdict(sample, response)
            return mek.choice_verdict(sample, mcq_choices(sample), response)
        if sample.task == "vqa":
            if sample.benchmark == "mmmu-med":
                return mek.mmmu_open_verdict(sample, response)
            return mek.vqa_verdict(sample, response)
        return Verdict(correct=False, extracted=response.strip() or None, method="report-unscored")


@PROFILES.register("medevalkit-reasoning")
class MedEvalKitReasoningProfile(MedEvalKitProfile):
    """MedEvalKit with ``REASONING=True``: every prompt asks for the answer in ``\\boxed{}``."""

    name = "medevalkit-reasoning"
    reasoning = True
    version = (
        f"2+{MEDEVALKIT_EN_REASONING.version}+{MEDEVALKIT_ZH_REASONING.version}"
        f"+{MEDEVALKIT_MMMU_REASONING.version}"
    )
    description = "MedEvalKit's reasoning-mode prompts (answer in \\boxed{}) and scoring."


def _option_line(benchmark: str) -> str:
    return MEDEVALKIT_OPTION_LINES.get(benchmark, MEDEVALKIT_EN.option_line)


def _mcq_options(sample: Sample) -> tuple[dict[str, str], str]:
    """The options and option-line style MedEvalKit's loader builds: PMC-VQA's CSV cells as
    written (they carry their own "A:" and any surrounding spaces), OmniMedVQA's
    ``option_A..D`` including empty ones (lines "C. "); elsewhere the clean options."""
    if sample.raw_options and sample.benchmark == "pmc-vqa":
        return sample.raw_options, "{text}"
    if sample.raw_options and sample.benchmark == "omnimedvqa":
        return sample.raw_options, _option_line(sample.benchmark)
    return sample.options, _option_line(sample.benchmark)


def _mmmu_images(sample: Sample) -> tuple[str, ...]:
    """MMMU's loader in MedEvalKit sends ``image_1`` only, also when the options are images
    (then the model sees one picture and reads the others' names)."""
    return sample.images[:1]


def mcq_choices(sample: Sample) -> list[str]:
    """The option lines exactly as the prompt shows them ("A. Pneumonia"), for the scorer."""
    options, line = _mcq_options(sample)
    return [line.format(letter=k, text=v) for k, v in options.items()]
