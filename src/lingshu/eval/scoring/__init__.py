"""Answer extraction and strict scoring: pure functions, no model, no I/O.

``extract`` reads letters, yes/no and answer text out of responses (reasoning formats
included) and returns ``None`` rather than guess; ``verdicts`` turns that into the strict
profile's ``Verdict``; ``normalize`` holds the text normalisation both share.
"""

from lingshu.eval.scoring.extract import (
    Extraction,
    extract_choice,
    extract_short_answer,
    extract_yes_no,
    last_answer_tag,
    last_boxed,
    strip_think,
    unwrap_reasoning,
)
from lingshu.eval.scoring.normalize import (
    answer_tokens,
    clean,
    is_polar_question,
    normalize_answer,
)
from lingshu.eval.scoring.verdicts import (
    contains_phrase,
    gold_yes_no,
    mcq_verdict,
    open_answer_scores,
    verdict,
    vqa_verdict,
)

__all__ = [
    "Extraction",
    "answer_tokens",
    "clean",
    "contains_phrase",
    "extract_choice",
    "extract_short_answer",
    "extract_yes_no",
    "gold_yes_no",
    "is_polar_question",
    "last_answer_tag",
    "last_boxed",
    "mcq_verdict",
    "normalize_answer",
    "open_answer_scores",
    "strip_think",
    "unwrap_reasoning",
    "verdict",
    "vqa_verdict",
]
