"""The ``strict`` profile (default): clear prompts, scoring that never guesses.

Prompt choice never looks at the gold answer (one exception for Chinese yes / no families,
below). Multiple choice: the question, its options as ``A. text`` lines and "Answer with
the option's letter from the given choices directly."
(PubMedQA-style samples get ``Context: ...`` first). Free-form questions: a polar question by
its wording (``is_polar_question``: "Is there ...?", "Does ...?", no "or") is asked for yes /
no; otherwise a question the benchmark labels ``closed`` is asked for a single word or
phrase, and an open one for a concise answer. Chinese questions get the same instructions in
Chinese, except that a Chinese question whose gold is in a yes / no family other than 是 / 否
(包含, 不是, 没有, 可以, 健康 ...) is asked for that family's two forms ("请只回答'包含'或'不包含'"):
the one place the prompt reads the gold, and it reads only the family, which the question's
wording mostly names already, never the side. Report samples get MedEvalKit's report prompt.

Scoring is ``lingshu.eval.scoring.verdicts.verdict``: unparseable answers are invalid
(counted wrong, reported as the invalid rate), yes / no by whole words with negation,
reasoning outputs unwrapped, continuous open-answer scores on every free-form answer,
Chinese answers judged by meaning (``lingshu.eval.scoring.chinese``).
"""

from __future__ import annotations

from lingshu.eval.prompts.base import PROFILES, Profile
from lingshu.eval.prompts.templates import (
    REPORT_PROMPT,
    STRICT_EN,
    STRICT_ZH,
    STRICT_ZH_FORMS,
    PromptSet,
)
from lingshu.eval.scoring.chinese import gold_form_pair
from lingshu.eval.scoring.normalize import has_cjk, is_polar_question
from lingshu.eval.scoring.verdicts import verdict
from lingshu.eval.types import Message, Sample, Verdict
from lingshu.inference import user_message


def user_turn(images: tuple[str, ...] | list[str], prompt: str) -> list[Message]:
    """One user message: image parts first (local paths), then the text."""
    return [user_message(prompt, images)]


@PROFILES.register("strict")
class StrictProfile(Profile):
    name = "strict"
    version = f"1+{STRICT_EN.version}+{STRICT_ZH.version}"
    description = (
        "Never guesses: unparseable answers are invalid and reported; yes/no by whole words "
        "with negation; prompts chosen from the question's wording, never from its gold answer."
    )

    def build_messages(self, sample: Sample) -> list[Message]:
        return user_turn(sample.images, self.prompt(sample))

    def prompt(self, sample: Sample) -> str:
        if sample.task == "report":
            return REPORT_PROMPT
        wording: PromptSet = STRICT_ZH if has_cjk(sample.question) else STRICT_EN
        if sample.task == "mcq":
            return wording.render_mcq(sample.question, sample.options, sample.context)
        forms = gold_form_pair(sample.answer) if wording is STRICT_ZH else None
        if forms is not None:
            return STRICT_ZH_FORMS.format(question=sample.question, yes=forms[0], no=forms[1])
        if is_polar_question(sample.question):
            template = wording.yes_no
        elif sample.answer_type == "closed":
            template = wording.closed
        else:
            template = wording.open
        return template.format(question=sample.question)

    def score(self, sample: Sample, response: str) -> Verdict:
        return verdict(sample, response)
