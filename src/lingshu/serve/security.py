"""The server's guards, as one ASGI middleware that runs before any route.

In order, for every HTTP request:

1. **Host header** (when the server is bound to loopback): only ``localhost``,
   ``127.0.0.1`` and ``[::1]`` are accepted. A web page on another site can make a
   browser send requests to ``127.0.0.1`` under its own domain name (DNS rebinding);
   checking the Host header makes those fail.
2. **API key** (when one is set): ``Authorization: Bearer <key>``, compared in constant
   time (``hmac.compare_digest``) so response timing does not reveal the key byte by
   byte. Checked before the body is read, so an anonymous client cannot make the server
   buffer a large upload. ``/health`` and the page's static files stay public.
3. **Body size**: a declared ``Content-Length`` over the limit is refused at once; a
   chunked body is counted as it arrives and refused when it passes the limit (413).

Refusals use OpenAI's error shape, like every other error of the server.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from lingshu.serve.errors import ApiError

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
PUBLIC_PATHS = ("/health",)
PUBLIC_PREFIXES = ("/ui/static/",)
"""Reachable without the API key: liveness checks and the page's own files (which hold
no data). The page at ``/`` is public too; it asks for the key before calling the API."""


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def keys_match(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class GuardMiddleware:
    """Host check, API key and body-size limit; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        max_body_bytes: int,
        allowed_hosts: Iterable[str] | None,
    ) -> None:
        self.app = app
        self.api_key = api_key or None
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts) if allowed_hosts else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self._check_host(headers)
            self._check_key(scope["path"], headers)
            receive = await self._limited_body(headers, receive)
        except ApiError as e:
            await e.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_host(self, headers: dict[str, str]) -> None:
        if self.allowed_hosts is None:
            return
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in self.allowed_hosts:
            raise ApiError(
                400,
                "this server answers only requests addressed to its loopback name "
                "(localhost or 127.0.0.1)",
                code="invalid_host",
            )

    def _check_key(self, path: str, headers: dict[str, str]) -> None:
        if (
            self.api_key is None
            or path in PUBLIC_PATHS
            or path == "/"
            or path.startswith(PUBLIC_PREFIXES)
        ):
            return
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not keys_match(token.strip(), self.api_key):
            raise ApiError(
                401,
                "missing or invalid API key; send it as 'Authorization: Bearer <key>'",
                type="invalid_request_error",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def _limited_body(self, headers: dict[str, str], receive: Receive) -> Receive:
        """Read the whole body (bounded), then replay it to the app."""
        declared = headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body_bytes:
                    raise self._too_large()
            except ValueError:
                raise ApiError(
                    400, "invalid Content-Length header", code="invalid_request"
                ) from None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _replay([message], receive)
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body_message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return _replay([body_message], receive)

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            f"request body exceeds this server's limit of {self.max_body_bytes:,} bytes "
            "(--max-body-bytes); send smaller images",
            code="request_too_large",
        )


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """Hand out the buffered messages, then pass through to the real ``receive`` (which
    is how a streaming response learns that its client disconnected)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
