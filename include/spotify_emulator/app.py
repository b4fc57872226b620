"""The ASGI application: routes, Spotify-shaped errors, and the middleware for faults and stats.

The middleware sits outside routing so it can answer an injected 5xx/429 before any handler runs,
hold back or damage a handler's response, and count every call (admin calls excepted) under its
route template.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spotify_emulator import accounts, admin, api
from spotify_emulator.catalog import Catalog
from spotify_emulator.config import EmulatorConfig
from spotify_emulator.errors import (
    SERVICE_NOT_FOUND,
    AccountsError,
    SpotifyError,
    error_body,
)
from spotify_emulator.faults import (
    Fault,
    drop_required_field,
    malform_body,
    truncate_body,
)
from spotify_emulator.state import EmulatorState

log = logging.getLogger(__name__)
ADMIN_PREFIX = "/_emulator"
_FAULT_MESSAGES = {
    429: "API rate limit exceeded",
    500: "Server error.",
    502: "Bad gateway.",
    503: "Service unavailable",
}


def create_app(config: EmulatorConfig, catalog: Catalog, *, id_seed: int = 0) -> FastAPI:
    """A ready-to-serve emulator over ``catalog``."""
    app = FastAPI(
        title="Spotify Web API emulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.emulator = EmulatorState(config, catalog, id_seed=id_seed)
    app.include_router(accounts.router)
    app.include_router(api.router)
    app.include_router(admin.router)
    app.add_exception_handler(SpotifyError, _spotify_error)
    app.add_exception_handler(AccountsError, _accounts_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
    app.add_middleware(EmulatorMiddleware, fastapi_app=app)
    return app


async def _spotify_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, SpotifyError):
        raise error
    return _error(error.status, error.message, error.headers)


async def _accounts_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, AccountsError):
        raise error
    return Response(error.body(), error.status, media_type="application/json")


async def _http_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, StarletteHTTPException):
        raise error
    if error.status_code == 404:
        return _error(404, SERVICE_NOT_FOUND)
    if error.status_code == 405:
        return _error(405, "Method not allowed")
    return _error(error.status_code, str(error.detail))


async def _validation_error(request: Request, error: Exception) -> Response:
    return _error(400, f"Bad request: {error}")


async def _server_error(request: Request, error: Exception) -> Response:
    log.exception("emulator handler failed on %s %s", request.method, request.url.path)
    return _error(500, "Server error.")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, message), status, headers, media_type="application/json")


class EmulatorMiddleware:
    """Trailing-slash tolerance, fault injection and call statistics around the routes."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    @property
    def state(self) -> EmulatorState:
        state: EmulatorState = self.fastapi_app.state.emulator
        return state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            # spotipy calls e.g. "artists/?ids=" and "me/"; the real service accepts both forms.
            scope = dict(scope)
            scope["path"] = path.rstrip("/")
            scope["raw_path"] = scope["path"].encode()
        state = self.state
        route = f"{scope['method']} {self._template(scope)}"
        eligible = scope["path"].startswith("/v1/") or (
            scope["path"] == "/api/token" and state.injector.spec.token
        )
        fault = state.injector.draw() if eligible else None
        if fault is not None and fault.rejects_request:
            status = int(fault.kind)
            headers = {}
            if status == 429:
                headers["Retry-After"] = str(state.injector.spec.retry_after_s)
            response = _error(status, _FAULT_MESSAGES[status], headers)
            await response(scope, receive, send)
            state.stats.record(route, status, fault.kind)
            return
        status, headers_list, body = await self._run(scope, receive)
        applied = None
        if fault is not None:
            body, applied = await self._damage(fault, status, body)
        headers_list = [(k, v) for k, v in headers_list if k.lower() != b"content-length"]
        headers_list.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers_list})
        await send({"type": "http.response.body", "body": body})
        state.stats.record(route, status, applied)

    async def _damage(self, fault: Fault, status: int, body: bytes) -> tuple[bytes, str | None]:
        if fault.kind == "slow":
            # The work is done (a write is applied); the client just never sees it in time.
            await asyncio.sleep(self.state.injector.spec.slow_s)
            return body, fault.kind
        if not 200 <= status < 300:
            return body, None
        if fault.kind == "truncated":
            return truncate_body(body, fault.rng), fault.kind
        if fault.kind == "malformed":
            return malform_body(body), fault.kind
        if fault.kind == "missing_fields":
            damaged = drop_required_field(body, fault.rng)
            return damaged, fault.kind if damaged != body else None
        return body, None

    async def _run(self, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        return int(start.get("status", 500)), list(start.get("headers", [])), b"".join(chunks)

    def _template(self, scope: Scope) -> str:
        partial = None
        for route in self.fastapi_app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", scope["path"]))
            if match == Match.PARTIAL and partial is None:
                partial = str(getattr(route, "path", scope["path"]))
        return partial or scope["path"]
