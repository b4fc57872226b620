"""Request plumbing shared by the route modules: auth, parameters, JSON responses."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request, Response

from spotify_emulator.catalog import is_spotify_id
from spotify_emulator.errors import (
    FORBIDDEN,
    INSUFFICIENT_SCOPE,
    INVALID_ID,
    NEEDS_USER,
    NOT_FOUND,
    RATE_LIMITED,
    SpotifyError,
)
from spotify_emulator.render import Renderer
from spotify_emulator.state import AccessToken, EmulatorState

T = TypeVar("T")


def emulator(request: Request) -> EmulatorState:
    return cast(EmulatorState, request.app.state.emulator)


def respond(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status, headers, media_type="application/json; charset=utf-8")


def api_base(request: Request) -> str:
    """Absolute Web API base of this request (``http://host:port/v1``), for links."""
    return str(request.base_url).rstrip("/") + "/v1"


def renderer(request: Request) -> Renderer:
    state = emulator(request)
    return Renderer(state.catalog, api_base(request), state.config.tier)


def is_development(request: Request) -> bool:
    return emulator(request).config.tier == "development"


async def web_api_token(request: Request) -> AccessToken:
    """Authenticate a Web API call, then count it against its app's rate limit."""
    state = emulator(request)
    token = state.accounts.lookup(request.headers.get("authorization"))
    retry_after = state.limiter.check(token.client_id)
    if retry_after is not None:
        raise SpotifyError(429, RATE_LIMITED, {"Retry-After": str(retry_after)})
    return token


Token = Annotated[AccessToken, Depends(web_api_token)]


def require_extended(request: Request) -> None:
    """Endpoints removed for development-mode apps answer 403, as the real service does."""
    if is_development(request):
        raise SpotifyError(403, FORBIDDEN)


def require_user(token: AccessToken, *any_scope: str) -> str:
    """The token's user id; client-credentials tokens cannot act for a user."""
    if token.user_id is None:
        raise SpotifyError(403, NEEDS_USER)
    if any_scope and not token.scope.intersection(any_scope):
        raise SpotifyError(403, INSUFFICIENT_SCOPE)
    return token.user_id


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SpotifyError(400, f"Invalid {name}: {raw!r} is not an integer") from None
    if not low <= value <= high:
        raise SpotifyError(400, f"Invalid {name}: must be between {low} and {high}, got {value}")
    return value


def optional_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise SpotifyError(400, f"Invalid {name}: {raw!r} is not an integer") from None


def lookup(table: dict[str, T], object_id: str) -> T:
    if not is_spotify_id(object_id):
        raise SpotifyError(400, INVALID_ID)
    found = table.get(object_id)
    if found is None:
        raise SpotifyError(404, NOT_FOUND)
    return found


def ids_param(request: Request, maximum: int) -> list[str]:
    raw = request.query_params.get("ids")
    if raw is None:
        raise SpotifyError(400, "Missing required parameter: ids")
    ids = [part.strip() for part in raw.split(",")]
    if len(ids) > maximum:
        raise SpotifyError(400, f"Too many ids requested: ids accepts at most {maximum}")
    if not all(is_spotify_id(part) for part in ids):
        raise SpotifyError(400, INVALID_ID)
    return ids


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise SpotifyError(400, "Error parsing json") from None
