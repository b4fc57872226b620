"""Control endpoints under ``/_emulator/``: never authenticated, rate limited, faulted or counted.

- ``GET  /_emulator/health``            tier and catalogue size (readiness probe)
- ``GET  /_emulator/stats``             calls per route template and status, 429s, faults
- ``POST /_emulator/reset-stats``       zero the statistics
- ``GET/POST /_emulator/faults``        read / replace the fault spec (restarts its sequence)
- ``POST /_emulator/rate-limit``        ``{"max_calls", "window_s", "retry_after_s"}``; clears windows
- ``POST /_emulator/revoke``            ``{"client_id": ...}`` or ``{"refresh_token": ...}``
- ``GET  /_emulator/catalog/{kind}``    ids of artists, albums, tracks, users or playlists
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from spotify_emulator.errors import SpotifyError
from spotify_emulator.faults import FaultSpec, InvalidFaultSpec
from spotify_emulator.helpers import emulator, json_body, respond

router = APIRouter(prefix="/_emulator")


async def _object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise SpotifyError(400, "expected a JSON object")
    return body


@router.get("/health")
async def health(request: Request) -> Response:
    state = emulator(request)
    return respond({"status": "ok", "tier": state.config.tier, "catalog": state.catalog.summary()})


@router.get("/stats")
async def stats(request: Request) -> Response:
    return respond(emulator(request).stats.as_dict())


@router.post("/reset-stats")
async def reset_stats(request: Request) -> Response:
    emulator(request).stats.reset()
    return respond({"reset": True})


@router.get("/faults")
async def get_faults(request: Request) -> Response:
    return respond(emulator(request).injector.spec.as_dict())


@router.post("/faults")
async def set_faults(request: Request) -> Response:
    try:
        spec = FaultSpec.from_mapping(await _object(request))
    except InvalidFaultSpec as error:
        raise SpotifyError(400, str(error)) from None
    state = emulator(request)
    state.injector.reconfigure(spec)
    return respond(spec.as_dict())


@router.post("/rate-limit")
async def set_rate_limit(request: Request) -> Response:
    body = await _object(request)
    limiter = emulator(request).limiter
    max_calls = body.get("max_calls", limiter.max_calls)
    window_s = body.get("window_s", limiter.window_s)
    retry_after_s = body.get("retry_after_s", limiter.retry_after_s)
    if max_calls is not None and (not isinstance(max_calls, int) or max_calls < 1):
        raise SpotifyError(400, "max_calls must be a positive integer or null")
    if not isinstance(window_s, int | float) or window_s <= 0:
        raise SpotifyError(400, "window_s must be a positive number")
    if retry_after_s is not None and (not isinstance(retry_after_s, int) or retry_after_s < 1):
        raise SpotifyError(400, "retry_after_s must be a positive integer or null")
    limiter.reconfigure(max_calls, float(window_s), retry_after_s)
    return respond(limiter.as_dict())


@router.post("/revoke")
async def revoke(request: Request) -> Response:
    body = await _object(request)
    accounts = emulator(request).accounts
    if isinstance(body.get("client_id"), str):
        revoked = accounts.revoke_client(body["client_id"])
    elif isinstance(body.get("refresh_token"), str):
        revoked = accounts.revoke_refresh_token(body["refresh_token"])
    else:
        raise SpotifyError(400, "give client_id or refresh_token")
    return respond({"revoked": revoked})


@router.get("/catalog/{kind}")
async def catalog_ids(kind: str, request: Request) -> Response:
    state = emulator(request)
    tables: dict[str, Any] = {
        "artists": state.catalog.artists,
        "albums": state.catalog.albums,
        "tracks": state.catalog.tracks,
        "users": state.catalog.users,
        "playlists": state.playlists.playlists,
    }
    if kind not in tables:
        raise SpotifyError(404, f"unknown catalogue kind {kind!r}; known: {', '.join(tables)}")
    return respond({"ids": list(tables[kind])})
