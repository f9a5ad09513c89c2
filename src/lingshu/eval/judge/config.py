"""The typed configuration of the LLM judge (``EvalConfig.judge``); unknown keys are errors.

The API key is accepted but never saved: ``model_dump`` (and so ``config.json``) leaves it
out and records only ``api_key_set``. A resumed run takes the key from ``--judge-api-key``
or ``LINGSHU_JUDGE_API_KEY`` again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from lingshu.core.errors import UserError
from lingshu.eval.judge.prompt import DEFAULT_PROMPT_VERSION, JUDGE_PROMPTS

JudgeScope = Literal["open", "all-vqa", "medevalkit"]
"""Which samples the judge decides (``scope.in_scope``): ``open`` = free-form questions the
strict scorer treats as open (gold not yes/no, not labelled closed); ``all-vqa`` = every
free-form question; ``medevalkit`` = where MedEvalKit uses its judge (VQA-RAD and PathVQA
questions whose gold is not yes/no, every SLAKE question). Multiple choice and reports:
never."""

PROFILE_SCOPES: dict[str, JudgeScope] = {
    "medevalkit": "medevalkit",
    "medevalkit-reasoning": "medevalkit",
}
"""Profiles whose judge scope is fixed: reproducing MedEvalKit means judging exactly where
it does. Other profiles default to ``open`` and accept any scope."""

DEFAULT_SCOPE: JudgeScope = "open"

NON_SEMANTIC_FIELDS = (
    "api_key_set", "concurrency", "timeout_s", "max_retries", "backoff_s", "backoff_max_s",
    "give_up_after",
)  # fmt: skip
"""Fields that never change a verdict: a run may be resumed with other values."""


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="judge model name the endpoint serves, e.g. gpt-4.1")
    base_url: str = Field(
        "https://api.openai.com/v1",
        description="OpenAI-compatible endpoint root of the judge, e.g. http://127.0.0.1:8000/v1",
    )
    api_key: SecretStr | None = Field(
        None,
        exclude=True,
        description="judge API key; default LINGSHU_JUDGE_API_KEY, then the openai backend's "
        "LINGSHU_API_KEY / OPENAI_API_KEY; never saved",
    )
    api_key_set: bool = Field(False, description="whether a key was given (the key is not saved)")
    scope: JudgeScope | None = Field(
        None, description="which samples are judged (default: by profile; see docs/judge.md)"
    )
    prompt_version: str = Field(DEFAULT_PROMPT_VERSION, description="judge prompt version")
    max_tokens: int = Field(256, ge=1, description="longest judge answer, in tokens")
    concurrency: int = Field(8, ge=1, description="judge requests in flight at once")
    timeout_s: float = Field(120.0, gt=0, description="per-request timeout (seconds)")
    max_retries: int = Field(3, ge=0, description="retries of a failed judge request")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles each retry")
    backoff_max_s: float = Field(30.0, ge=0, description="longest delay between retries")
    give_up_after: int = Field(
        20,
        ge=1,
        description="after this many failed judge requests in a row the rest are not sent "
        "(recorded as judge errors; a rerun retries them)",
    )

    @model_validator(mode="before")
    @classmethod
    def _note_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("api_key"):
            data = {**data, "api_key_set": True}
        return data

    @field_validator("prompt_version")
    @classmethod
    def _known_version(cls, v: str) -> str:
        if v not in JUDGE_PROMPTS:
            known = ", ".join(JUDGE_PROMPTS)
            raise ValueError(f"unknown judge prompt version {v!r}; known: {known}")
        return v

    def key(self) -> str | None:
        """The API key as a string, when one was given in this config."""
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def identity(self) -> dict[str, Any]:
        """What decides the verdicts (part of the run's identity)."""
        d = self.model_dump(mode="json")
        for k in NON_SEMANTIC_FIELDS:
            d.pop(k, None)
        return d


def resolve_scope(profile: str, scope: JudgeScope | None) -> JudgeScope:
    """The scope a run uses: fixed for MedEvalKit's profiles, else ``scope`` or ``open``."""
    fixed = PROFILE_SCOPES.get(profile)
    if fixed is not None:
        if scope is not None and scope != fixed:
            raise UserError(
                f"--judge-scope {scope}: the {profile} profile judges exactly where MedEvalKit "
                f"does (scope {fixed!r}); drop --judge-scope, or use --profile strict"
            )
        return fixed
    return scope or DEFAULT_SCOPE
