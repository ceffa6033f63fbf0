"""The FastAPI application: middleware, error shape, routers.

Every request runs as its authenticated actor through the same SDK as a local workspace, so
authorization and the audit trail are the server's alone: clients hold tokens, never
database credentials. Errors come back as ``{"error": {"type", "message", "request_id"}}``
with the status the exception tree assigns; no stack trace or secret ever leaves the server.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gxpml import __version__
from gxpml.api.deps import LoginLimiter
from gxpml.api.schemas import ErrorOut
from gxpml.config import load_settings
from gxpml.errors import GxpmlError, StorageError
from gxpml.store.uow import IdempotencyClaim, idempotency_var, request_id_var
from gxpml.workspace import Workspace

__all__ = ["MAX_JSON_BODY", "create_app"]

log = logging.getLogger("gxpml.api")

_INTERNAL = "The server failed to handle the request; its log has the details under this request id."

#: Largest JSON request body accepted (artifact uploads stream and are not limited by this).
MAX_JSON_BODY = 1 << 20
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_STREAMING_PATHS = ("/api/v1/artifacts", "/api/v1/datasets")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in [
        (401, "Not authenticated"), (403, "Not permitted (recorded in the audit trail)"),
        (404, "Not found"), (409, "Conflict"), (413, "Body too large"),
        (422, "Invalid input"), (429, "Too many attempts"), (500, "Integrity or internal error"),
        (503, "Storage unavailable"),
    ]
}


def error_body(type_name: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_name, "message": message, "request_id": request_id_var.get()}}


class RequestContext:
    """Pure ASGI middleware: a request id for each request (echoed in ``X-Request-ID`` and
    written into audit events), the request's ``Idempotency-Key`` (a write is applied at most
    once per key), and a size limit on non-streaming request bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else f"req_{secrets.token_hex(8)}"
        token = request_id_var.set(request_id)
        key = headers.get(b"idempotency-key", b"").decode("latin-1")
        claim = IdempotencyClaim(key) if key and scope.get("method") != "GET" and _REQUEST_ID.match(key) else None
        idem_token = idempotency_var.set(claim)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        limited = not str(scope.get("path", "")).startswith(_STREAMING_PATHS)
        length = headers.get(b"content-length")
        try:
            if limited and length is not None and length.isdigit() and int(length) > MAX_JSON_BODY:
                await _too_large(send_with_id)
                return
            received = 0

            async def counting_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > MAX_JSON_BODY:
                        raise _BodyTooLarge
                return message

            started = False

            async def tracking_send(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                await send_with_id(message)

            try:
                await self.app(scope, counting_receive if limited else receive, tracking_send)
            except _BodyTooLarge:
                await _too_large(send_with_id)
            except Exception:
                # Here, inside the request's context, so the log and the answer carry its id.
                log.exception("unhandled error in request %s", request_id)
                if started:
                    raise  # the response is under way: all we can do is cut it short
                response = JSONResponse(error_body("InternalError", _INTERNAL), status_code=500)
                await response({"type": "http"}, _no_receive, send_with_id)
        finally:
            request_id_var.reset(token)
            idempotency_var.reset(idem_token)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    response = JSONResponse(
        error_body("PayloadTooLarge", f"The request body is larger than {MAX_JSON_BODY} bytes."),
        status_code=413,
    )
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - never called for a plain response
    return {"type": "http.disconnect"}


def create_app(home: str | Path | None = None) -> FastAPI:
    """The API for the workspace at ``home`` (default: ``GXPML_HOME``, else ``./.gxpml``)."""
    settings = load_settings(home)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        root = Workspace(settings)
        app.state.workspace = root
        app.state.login_limiter = LoginLimiter()
        try:
            yield
        finally:
            root.close()

    app = FastAPI(
        title="gxpml", version=__version__, lifespan=lifespan, responses=ERROR_RESPONSES,
        description="The gxpml record core over HTTP: users, roles, tokens, the audit trail and artifacts.",
    )

    @app.exception_handler(GxpmlError)
    async def _gxpml_error(_request: Request, exc: GxpmlError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        message = exc.message
        if isinstance(exc, StorageError):
            # Where the database lives is the server's business: log it, don't tell clients.
            log.error("storage error in request %s: %s", request_id_var.get(), exc.message)
            message = "The server's storage is unavailable; retry later. The server log has the details under this request id."
        return JSONResponse(error_body(exc.type_name, message), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return JSONResponse(error_body("InvalidInput", "Invalid request: " + "; ".join(parts) + "."), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not JSON (or not UTF-8) at all
            return JSONResponse(error_body("InvalidInput", "The request body is not valid JSON (UTF-8)."), status_code=422)
        names = {404: "NotFound", 405: "MethodNotAllowed", 401: "AuthenticationError"}
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method the path takes, not just the first route's
            methods = {m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
                       if any(route.matches({**request.scope, "method": m})[0] == Match.FULL
                              for route in request.app.routes)}
            headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse(error_body(names.get(exc.status_code, "HTTPError"), str(exc.detail)),
                            status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request %s", request_id_var.get())
        return JSONResponse(error_body("InternalError", _INTERNAL), status_code=500)

    from gxpml.api.routes import artifacts, audit, health, identity, lineage, runs, sessions, validations

    app.include_router(health.router)
    for module in (sessions, identity, audit, artifacts, lineage, runs, validations):
        app.include_router(module.router, prefix="/api/v1")
    from gxpml.api.routes import data as datasets  # uploads stream: see _STREAMING_PATHS
    app.include_router(datasets.router, prefix="/api/v1")
    app.add_middleware(RequestContext)
    return app
