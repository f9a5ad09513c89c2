"""Errors a client caused, in OpenAI's error shape.

Every 4xx answer of the server is ``{"error": {"message", "type", "param", "code"}}``, the
shape OpenAI's SDKs parse into an exception with a readable message. Messages are written
for the person who sent the request (which field, what was expected) and never carry
internals: no tracebacks, no file paths, no exception reprs from libraries.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class ApiError(Exception):
    """A request the server refuses; rendered as OpenAI's error JSON with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - OpenAI's field name
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,  # noqa: A002
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def internal_error() -> ApiError:
    """What a 5xx says: nothing about the server's insides (they go to the server log)."""
    return ApiError(
        500,
        "the server failed to answer this request; its log has the details",
        type="server_error",
        code="internal_error",
    )
