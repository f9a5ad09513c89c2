"""The judge prompt, versioned: what the LLM judge is asked about one answer.

Semantics follow MedEvalKit's judge for open VQA answers (its ``get_compare_messages``,
used for VQA-RAD / PathVQA open questions and all SLAKE questions): one user turn, no
system prompt, showing the question, the standard (gold) answer and the model's answer,
and asking whether the model's answer is correct, where "correct" means it has the same
meaning as the standard answer or is another valid interpretation of it. The judge gives
a binary verdict and a short rationale.

What differs, on purpose: MedEvalKit asks for ``<think>...</think><judge>0/1</judge>`` with
0 meaning *correct*, an inverted code that judges (and readers) get wrong. Ours asks for
the words ``Verdict: correct`` / ``Verdict: incorrect`` on the first line, then one
sentence of rationale; ``parse.parse_judgement`` reads that and a few other unambiguous
forms, and anything else becomes a recorded judge error. The wording was tried against a
small local model (SmolLM2-135M-Instruct): listing the answers before the question and
putting the criterion inside the question made it state a verdict far more often than
MedEvalKit's layout, which it tends to echo back.

Changing the wording, or what the parser accepts, means a new version: the version is part
of the judge-cache key and of the run's identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from lingshu.core.registry import Registry
from lingshu.inference import Message


@dataclass(frozen=True)
class JudgeItem:
    """What the judge sees of one sample: the bare question (no answer instructions), the
    gold answer and the model's answer, as the profile's scorer reads them."""

    question: str
    gold: str
    response: str


@dataclass(frozen=True)
class JudgePrompt:
    version: str
    template: str  # str.format over {question}, {gold}, {response}

    def render(self, item: JudgeItem) -> str:
        return self.template.format(question=item.question, gold=item.gold, response=item.response)

    def messages(self, item: JudgeItem) -> list[Message]:
        """One user turn with the rendered prompt (MedEvalKit sends no system prompt)."""
        return [{"role": "user", "content": self.render(item)}]


JUDGE_PROMPTS: Registry[JudgePrompt] = Registry("judge prompt version")

JUDGE_PROMPTS.add(
    "judge-v1",
    JudgePrompt(
        version="judge-v1",
        template=(
            "Standard answer: {gold}\n"
            "User's answer: {response}\n"
            "Question: {question}\n"
            "\n"
            "Does the user's answer mean the same as the standard answer (other wording or "
            "another valid interpretation of it counts)? Reply with \"Verdict: correct\" or "
            "\"Verdict: incorrect\" on the first line, then one short sentence explaining why."
        ),
    ),
)

DEFAULT_PROMPT_VERSION = "judge-v1"


def get_judge_prompt(version: str = DEFAULT_PROMPT_VERSION) -> JudgePrompt:
    """The prompt of ``version``; an unknown version is a ``UserError`` listing the known."""
    return JUDGE_PROMPTS.get(version)
