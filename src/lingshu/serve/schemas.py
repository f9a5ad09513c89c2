"""The request bodies the server accepts, as OpenAI documents them.

Types are checked strictly (``"max_tokens": "16"`` is a 400, as on OpenAI, not silently
coerced) while fields we do not know are tolerated and ignored, because OpenAI's SDKs and
tools add fields freely (``user``, ``metadata``, ``tools``...). Fields we know but cannot
honour (``n`` > 1, penalties, logprobs) are refused with a message saying so rather than
ignored, since ignoring them would change what the client gets without telling it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_LENIENT = ConfigDict(extra="allow", strict=True)


class ImageURL(BaseModel):
    model_config = _LENIENT

    url: str
    detail: str | None = None


class ContentPart(BaseModel):
    """One part of a message's content: ``text`` or ``image_url``."""

    model_config = _LENIENT

    type: str
    text: str | None = None
    image_url: ImageURL | str | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> ContentPart:
        if self.type == "text":
            if self.text is None:
                raise ValueError("a 'text' part needs a string field 'text'")
        elif self.type == "image_url":
            if self.image_url is None:
                raise ValueError("an 'image_url' part needs a field 'image_url' with a 'url'")
        else:
            raise ValueError(
                f"unsupported content part type {self.type!r}; expected 'text' or 'image_url'"
            )
        return self

    @property
    def url(self) -> str:
        return self.image_url if isinstance(self.image_url, str) else self.image_url.url  # type: ignore[union-attr]


class ChatMessage(BaseModel):
    model_config = _LENIENT

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def _content_required(self) -> ChatMessage:
        if self.content is None and self.role != "assistant":
            raise ValueError(
                f"a {self.role!r} message needs 'content' (a string or a list of parts)"
            )
        texts = [self.content] if isinstance(self.content, str) else [
            p.text for p in self.content or [] if p.text is not None
        ]
        for text in texts:
            _check_encodable(text)
        return self


def _check_encodable(text: str) -> None:
    """JSON's ``\\ud800`` escapes decode to lone surrogates, which no tokenizer can encode
    (they are not characters); refuse them as a client mistake rather than fail later."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"the text holds a lone Unicode surrogate (U+{ord(text[e.start]):04X} at "
            f"character {e.start}); send valid UTF-16 surrogate pairs or plain UTF-8"
        ) from None


class StreamOptions(BaseModel):
    model_config = _LENIENT

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``."""

    model_config = _LENIENT

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**64 - 1)  # torch.manual_seed's range
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    logprobs: bool | None = None

    @model_validator(mode="after")
    def _supported(self) -> ChatCompletionRequest:
        if self.n not in (None, 1):
            raise ValueError("only n = 1 is supported; send several requests for several answers")
        for name in ("presence_penalty", "frequency_penalty"):
            if getattr(self, name) not in (None, 0, 0.0):
                raise ValueError(
                    f"{name} is not supported by this server; leave it out or set it to 0"
                )
        if self.logprobs:
            raise ValueError("logprobs are not supported by this server")
        stops = self.stop_sequences
        if len(stops) > 4:  # OpenAI's limit
            raise ValueError("at most 4 stop sequences are allowed")
        for stop in stops:
            _check_encodable(stop)
        return self

    @property
    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        items = [self.stop] if isinstance(self.stop, str) else self.stop
        return tuple(s for s in items if s)

    @property
    def requested_max_tokens(self) -> int | None:
        # max_completion_tokens is OpenAI's newer name; it wins when both are given.
        return self.max_completion_tokens or self.max_tokens


class RenderRequest(BaseModel):
    """``POST /ui/render``: an uploaded file as a data URI, to be shown as PNG."""

    model_config = _LENIENT

    image: str


def describe_validation_error(e: ValidationError) -> tuple[str, str | None]:
    """One readable line and the offending parameter's path, from pydantic's errors.

    Union types make pydantic report one error per alternative; the deepest one is the
    one about what the client actually sent (a list of parts, not "not a string").
    """
    errors = e.errors(include_url=False, include_input=False)
    err = max(errors, key=lambda x: len(x["loc"]))
    param = _param_path(err["loc"])
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "missing":
        msg = "field required"
    elif err["type"] == "extra_forbidden":
        msg = "unknown field"
    return (f"{param}: {msg}" if param else msg), param


def _param_path(loc: tuple[Any, ...]) -> str | None:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif _is_union_tag(str(item)):
            continue
        else:
            out += f".{item}" if out else str(item)
    return out or None


def _is_union_tag(item: str) -> bool:
    # pydantic names union branches by type ('str', 'list[ContentPart]', 'ImageURL', 'none').
    return (
        "[" in item
        or item in {"str", "int", "float", "bool", "none", "list", "dict"}
        or item[:1].isupper()
    )
