"""The OpenAI-compatible HTTP app over a :class:`~lingshu.inference.Engine`.

Routes: ``POST /v1/chat/completions`` (plain or ``stream: true`` server-sent events in
OpenAI's chunk format, ending with ``data: [DONE]``), ``GET /v1/models``, ``GET /health``;
with the page enabled, ``GET /`` (the chat page), ``/ui/static/*`` and ``POST /ui/render``
(any supported image, DICOM included, as a PNG a browser can show).

Request bodies are parsed by hand rather than by FastAPI's automatic validation so that
every client mistake becomes a 400 in OpenAI's error shape with a message naming the
field; anything unexpected inside the server becomes a bare 500 whose details go to the
log only. The engine runs in its own thread; its events reach the event loop through
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from lingshu.core.hashing import sha256_obj
from lingshu.inference import (
    Engine,
    EngineBusy,
    GenerationHandle,
    GenerationParams,
    GenerationResult,
    PromptError,
    StreamEvent,
)
from lingshu.serve.errors import ApiError, bad_request, error_body, internal_error
from lingshu.serve.images import decode_image_bytes, decode_image_url, is_remote, to_png_data_uri
from lingshu.serve.messages import image_parts, to_engine_messages
from lingshu.serve.remote import RemoteFetcher
from lingshu.serve.schemas import ChatCompletionRequest, RenderRequest, describe_validation_error
from lingshu.serve.security import GuardMiddleware
from lingshu.serve.settings import ServerSettings

log = logging.getLogger(__name__)

STATIC_DIR = resources.files("lingshu.serve") / "static"
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'"
)
"""The page runs only its own script and talks only to this server, so injected markup
could neither load code nor send data elsewhere."""


def create_app(engine: Engine, settings: ServerSettings) -> FastAPI:
    """The ASGI app; run it with uvicorn (``lingshu serve`` does)."""
    app = FastAPI(title="Lingshu", docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())
    fingerprint = "fp_" + sha256_obj(engine.loaded.fingerprint)[:12]
    max_tokens_cap = settings.max_tokens_cap(getattr(engine, "context_length", 4096))
    fetcher = RemoteFetcher(settings.images)
    _install_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "auth_required": settings.api_key is not None}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(settings.served_model_name, created)]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        if model_id != settings.served_model_name:
            raise _unknown_model(model_id, settings)
        return _model_card(model_id, created)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        events: asyncio.Queue[StreamEvent] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def listener(ev: StreamEvent) -> None:
            loop.call_soon_threadsafe(events.put_nowait, ev)

        req = _parse(ChatCompletionRequest, await _json_body(request))
        if req.model != settings.served_model_name:
            raise _unknown_model(req.model, settings)
        # Remote images before arriving(): batches wait a moment for arriving requests, and
        # one stalled by a slow remote server must not delay everyone's batches.
        fetched = await _fetch_remote(
            fetcher, image_parts(req.messages, settings.max_images_per_request)
        )
        with engine.arriving():  # a batch about to start waits for this request to be queued
            messages = await run_in_threadpool(
                to_engine_messages,
                req.messages,
                settings.images,
                settings.max_images_per_request,
                fetched,
            )
            params = GenerationParams.from_client(
                max_new_tokens=_max_tokens(req, settings, max_tokens_cap),
                temperature=settings.default_temperature
                if req.temperature is None
                else req.temperature,
                top_p=1.0 if req.top_p is None else req.top_p,
                # OpenAI takes any 64-bit seed, signed or not; ours are 0..2**63-1.
                seed=None if req.seed is None else req.seed % 2**63,
                stop=req.stop_sequences,
            )
            handle = await _submit(engine, messages, params, listener)
        meta = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": settings.served_model_name,
            "system_fingerprint": fingerprint,
        }
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(
                _sse(events, handle, meta, include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        try:
            result = await _wait_result(events, request)
        finally:
            handle.cancel()  # no-op when finished; frees the engine if the client went away
        if result is None:  # the client disconnected: nobody to answer
            return Response(status_code=499)
        return JSONResponse(_completion(meta, result))

    if settings.ui:
        app.mount("/ui/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

        @app.get("/")
        async def page() -> FileResponse:
            return FileResponse(
                str(STATIC_DIR / "index.html"),
                media_type="text/html",
                headers={"Content-Security-Policy": PAGE_CSP},
            )

        @app.post("/ui/render")
        async def render(request: Request) -> dict[str, Any]:
            req = _parse(RenderRequest, await _json_body(request))
            fetched = await _fetch_remote(fetcher, [("image", req.image)])
            if fetched:
                image = await run_in_threadpool(
                    decode_image_bytes, fetched[req.image], settings.images, "image"
                )
            else:
                image = await run_in_threadpool(decode_image_url, req.image, settings.images, "image")
            png = await run_in_threadpool(to_png_data_uri, image)
            return {"image": png, "width": image.width, "height": image.height}
    else:

        @app.get("/")
        async def root() -> dict[str, Any]:
            return {
                "message": "Lingshu OpenAI-compatible server; "
                "the chat page is off (start with --ui)",
                "endpoints": ["POST /v1/chat/completions", "GET /v1/models", "GET /health"],
            }

    app.add_middleware(
        GuardMiddleware,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
        allowed_hosts=settings.allowed_hosts,
    )
    return app


# -- request handling -------------------------------------------------------------------


async def _json_body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        # Also what stops a foreign web page from posting here without a CORS preflight.
        raise ApiError(415, "Content-Type must be application/json", code="unsupported_media_type")
    body = await request.body()
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise bad_request("the request body is not UTF-8 text", code="invalid_json") from None
    except RecursionError:
        raise bad_request("the request body is nested too deeply", code="invalid_json") from None
    except json.JSONDecodeError as e:
        raise bad_request(
            f"the request body is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})",
            code="invalid_json",
        ) from None
    except ValueError:  # an integer of over 4,300 digits (Python's int conversion limit)
        raise bad_request(
            "the request body holds a number too long to read (over 4,300 digits)",
            code="invalid_json",
        ) from None


async def _fetch_remote(fetcher: RemoteFetcher, parts: list[tuple[str, str]]) -> dict[str, bytes]:
    """The bytes of the request's remote image URLs (when the server allows them), fetched
    on the event loop so that slow remote servers hold no thread (see serve/remote.py)."""
    if not fetcher.policy.allow_remote:
        return {}  # decoding refuses remote URLs with its own message
    remote = {url: param for param, url in parts if is_remote(url)}
    return await fetcher.fetch_all(list(remote.items()))


def _parse(model: type, obj: Any) -> Any:
    if not isinstance(obj, dict):
        raise bad_request("the request body must be a JSON object", code="invalid_json")
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        message, param = describe_validation_error(e)
        raise bad_request(message, param=param, code="invalid_value") from None


def _max_tokens(req: ChatCompletionRequest, settings: ServerSettings, cap: int) -> int:
    """The request's answer length, refused (400) above the server's cap."""
    asked = req.requested_max_tokens
    if asked is None:
        return min(settings.default_max_tokens, cap)
    if asked > cap:
        param = "max_completion_tokens" if req.max_completion_tokens else "max_tokens"
        raise bad_request(
            f"{param} is {asked}; this server allows at most {cap} tokens per answer "
            "(--max-tokens-limit)",
            param=param,
            code="invalid_value",
        )
    return asked


def _unknown_model(name: str, settings: ServerSettings) -> ApiError:
    return ApiError(
        404,
        f"model {name!r} does not exist on this server; it serves "
        f"{settings.served_model_name!r} (see GET /v1/models)",
        param="model",
        code="model_not_found",
    )


async def _submit(
    engine: Engine, messages: list[dict[str, Any]], params: GenerationParams, listener: Any
) -> GenerationHandle:
    try:
        return await run_in_threadpool(engine.submit, messages, params, listener)
    except PromptError as e:
        raise bad_request(str(e), param="messages", code="invalid_prompt") from None
    except EngineBusy as e:
        raise ApiError(
            429,
            f"the server is busy: {e}",
            type="rate_limit_error",
            code="server_busy",
            headers={"Retry-After": "1"},
        ) from None


async def _wait_result(
    events: asyncio.Queue[StreamEvent], request: Request
) -> GenerationResult | None:
    """The final result, or ``None`` as soon as the client disconnects.

    A non-streamed request would otherwise keep its batch row until its last token: a
    client that gave up on a 1,500-token answer held the engine for a minute.
    """
    result = asyncio.ensure_future(_final_event(events))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (result, gone):
            if not task.done():
                task.cancel()
    if not result.done() or result.cancelled():
        log.info("client disconnected; request cancelled")
        return None
    return result.result()


async def _final_event(events: asyncio.Queue[StreamEvent]) -> GenerationResult:
    while True:
        ev = await events.get()
        if ev.kind == "done":
            assert ev.result is not None
            return ev.result
        if ev.kind == "error":
            log.error("generation failed: %s", ev.text)
            raise internal_error()


async def _disconnected(request: Request) -> None:
    """Return when the client closes the connection (the body is already read, so the
    next ASGI message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _usage(result: GenerationResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }


def _finish_reason(result: GenerationResult) -> str:
    return "length" if result.finish_reason == "length" else "stop"


def _completion(meta: dict[str, Any], result: GenerationResult) -> dict[str, Any]:
    return {
        **meta,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text, "refusal": None},
                "logprobs": None,
                "finish_reason": _finish_reason(result),
            }
        ],
        "usage": _usage(result),
    }


def _chunk(
    meta: dict[str, Any], delta: dict[str, Any], finish: str | None, include_usage: bool
) -> bytes:
    body: dict[str, Any] = {
        **meta,
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if include_usage:
        body["usage"] = None  # OpenAI: null on every chunk but the last, extra one
    return _sse_data(body)


def _sse_data(obj: Any) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


async def _sse(
    events: asyncio.Queue[StreamEvent],
    handle: GenerationHandle,
    meta: dict[str, Any],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """OpenAI's stream: a role chunk, content chunks, a finish chunk, optionally a usage
    chunk (empty ``choices``), then ``data: [DONE]``."""
    try:
        yield _chunk(meta, {"role": "assistant", "content": ""}, None, include_usage)
        while True:
            ev = await events.get()
            if ev.kind == "delta":
                yield _chunk(meta, {"content": ev.text}, None, include_usage)
            elif ev.kind == "done":
                assert ev.result is not None
                yield _chunk(meta, {}, _finish_reason(ev.result), include_usage)
                if include_usage:
                    yield _sse_data(
                        {
                            **meta,
                            "object": "chat.completion.chunk",
                            "choices": [],
                            "usage": _usage(ev.result),
                        }
                    )
                break
            else:
                log.error("generation failed mid-stream: %s", ev.text)
                yield _sse_data(internal_error().body())
                break
        yield b"data: [DONE]\n\n"
    finally:
        handle.cancel()  # the client went away (or we are done): free the batch row


def _model_card(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "lingshu"}


# -- errors -----------------------------------------------------------------------------


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return e.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 404:
            message, code = f"no such endpoint: {request.method} {request.url.path}", "not_found"
        elif e.status_code == 405:
            message, code = (
                f"method {request.method} is not allowed on {request.url.path}",
                "method_not_allowed",
            )
        else:
            message, code = str(e.detail), None
        return JSONResponse(
            error_body(message, code=code),
            status_code=e.status_code,
            headers=getattr(e, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid request", code="invalid_value"), status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return internal_error().response()
