"""``openai``: any OpenAI-compatible chat endpoint (vLLM's server, SGLang, hosted APIs).

Requests go out in parallel, at most ``concurrency`` at a time, each with a timeout.
Connection errors, timeouts, HTTP 408, 429 and 5xx are retried with bounded exponential
backoff (``backoff_s`` doubling up to ``backoff_max_s``, jittered, honouring a server's
``Retry-After`` up to the same cap); other 4xx answers are the request's own fault and
are not retried. A request that still fails is returned as ``Response(error=reason)``:
the runner records it and never scores it as a wrong answer.

Images travel as data URIs (see ``lingshu.models.images.image_to_data_uri``). The API
key comes from the ``api_key`` option, else ``LINGSHU_API_KEY``, else ``OPENAI_API_KEY``;
it is never part of the fingerprint or of any saved config.
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, field_validator

from lingshu.core.errors import SampleError
from lingshu.inference import messages as _messages
from lingshu.inference.decoding import cut_at_stop
from lingshu.inference.backends.base import Backend, BackendConfig, register_backend
from lingshu.inference.types import GenerationParams, Request, Response

RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
API_KEY_ENV = ("LINGSHU_API_KEY", "OPENAI_API_KEY")


class OpenAIConfig(BackendConfig):
    model: str = Field(description="model name the endpoint serves, e.g. gpt-4.1 or a local path")
    base_url: str = Field(
        "https://api.openai.com/v1", description="endpoint root; /chat/completions is appended"
    )
    api_key: SecretStr | None = Field(
        None, description="bearer token; default from LINGSHU_API_KEY or OPENAI_API_KEY"
    )
    concurrency: int = Field(8, ge=1, description="requests in flight at once")
    timeout_s: float = Field(120.0, gt=0, description="per-request timeout (seconds)")
    max_retries: int = Field(5, ge=0, description="retries after the first attempt")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles each retry")
    backoff_max_s: float = Field(30.0, ge=0, description="longest delay between retries")
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="newer OpenAI models want max_completion_tokens"
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="extra JSON fields sent with every request"
    )
    batch_size: int = Field(32, ge=1, description="requests handed over per generate call")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        """A mistyped endpoint (``htp:/x``) would fail every request, each retried."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(
                f"{url!r} is not an http(s) URL with a host; e.g. http://127.0.0.1:8000/v1"
            )
        return url


class _Failure(Exception):
    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after = reason, retryable, retry_after


@register_backend("openai")
class OpenAIBackend(Backend):
    Config = OpenAIConfig

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        key = config.api_key.get_secret_value() if config.api_key else _key_from_env()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=config.concurrency)
        self._client = httpx.Client(headers=headers, timeout=config.timeout_s, limits=limits)
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="lingshu-openai")
        self._rng = random.Random(0)
        self._rng_lock = threading.Lock()

    def fingerprint(self) -> dict[str, Any]:
        fp: dict[str, Any] = {
            "backend": "openai",
            "base_url": self.config.base_url.rstrip("/"),
            "model": self.config.model,
        }
        if self.config.extra_body:
            fp["extra_body"] = self.config.extra_body
        return fp

    def preferred_batch_size(self) -> int:
        return self.config.batch_size

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Response]:
        return list(self._pool.map(lambda r: self._answer(r, params), requests))

    def _answer(self, request: Request, params: GenerationParams) -> Response:
        try:
            payload = self._payload(request, params)
        except SampleError as e:
            return Response(error=str(e))
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._post(payload, params)
            except _Failure as f:
                if not f.retryable:
                    return Response(error=f.reason)
                if attempt + 1 == attempts:
                    return Response(error=f"{f.reason} (gave up after {attempts} attempts)")
                time.sleep(self._delay(attempt, f.retry_after))
            except Exception as e:  # noqa: BLE001 - an odd reply must not end a long run
                return Response(error=f"unexpected reply: {type(e).__name__}: {e}")
        raise AssertionError("unreachable")

    def _payload(self, request: Request, params: GenerationParams) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": _messages.to_openai(request.messages),
            self.config.max_tokens_field: params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        payload.update(self.config.extra_body)
        return payload

    def _post(self, payload: dict[str, Any], params: GenerationParams) -> Response:
        try:
            reply = self._client.post(self._url, json=payload)
        except httpx.TimeoutException:
            raise _Failure(f"timeout after {self.config.timeout_s:g}s", retryable=True) from None
        except httpx.TransportError as e:
            raise _Failure(f"connection error: {type(e).__name__}: {e}", retryable=True) from None
        if reply.status_code != 200:
            raise _Failure(
                f"HTTP {reply.status_code}: {_error_detail(reply)}",
                retryable=reply.status_code in RETRYABLE_STATUS,
                retry_after=_retry_after(reply),
            )
        return _parse_completion(reply, params)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cap = self.config.backoff_max_s
        base = min(cap, self.config.backoff_s * 2**attempt)
        with self._rng_lock:
            delay = base * (0.5 + 0.5 * self._rng.random())  # jitter spreads concurrent retries
        if retry_after is not None:
            delay = max(delay, min(cap, retry_after))
        return delay


def _parse_completion(reply: httpx.Response, params: GenerationParams) -> Response:
    try:
        data = reply.json()
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Failure(
            f"malformed completion (expected choices[0].message): {reply.text[:200]!r}",
            retryable=False,
        ) from None
    content = message.get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is None:
        reason = (
            message.get("refusal") or f"finish_reason={data['choices'][0].get('finish_reason')}"
        )
        raise _Failure(f"no content in completion ({reason})", retryable=False)
    text, _ = cut_at_stop(content, params.stop)
    usage = data.get("usage") or {}
    return Response(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )


def _error_detail(reply: httpx.Response) -> str:
    try:
        err = reply.json().get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
    except (ValueError, AttributeError):
        pass
    return reply.text.strip()[:300] or reply.reason_phrase


def _retry_after(reply: httpx.Response) -> float | None:
    value = reply.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _key_from_env() -> str | None:
    return next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)
