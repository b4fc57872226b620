"""Spotify failures, translated into what the orchestrator should do about them.

spotipy raises ``SpotifyException`` (HTTP errors), ``SpotifyOauthError`` (token endpoint) and
lets ``requests`` timeouts through; the hook adds :class:`RetryAfterTooLong` (a 429 whose wait
exceeds the cap) and :class:`MalformedResponse` (a body that is not JSON, which spotipy would
otherwise turn into ``None``). :func:`orchestration_errors` maps them to ``RetryLater`` /
``PermanentFailure`` so a task neither blocks a worker nor retries a hopeless call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from spotify_agent.core.errors import PermanentFailure, RetryLater


class RetryAfterTooLong(Exception):  # noqa: N818 - named for what happened
    """Spotify answered 429 with a ``Retry-After`` longer than a worker may sleep."""

    def __init__(self, retry_after_s: float, url: str) -> None:
        self.retry_after_s = retry_after_s
        self.url = url
        super().__init__(f"HTTP 429 from {url}: Retry-After {retry_after_s:.0f} s exceeds the cap")


class MalformedResponse(Exception):  # noqa: N818
    """A 2xx answer whose body is not valid JSON (truncated or corrupt); the raw body is kept."""

    def __init__(self, url: str, body: bytes, reason: str) -> None:
        self.url = url
        self.body = body
        self.reason = reason
        super().__init__(f"malformed response from {url}: {reason}")


# 4xx answers that a retry cannot fix. 429 is handled apart; 401 "token expired" is refreshed by
# spotipy's auth manager before it reaches us.
_PERMANENT_STATUSES = frozenset({400, 401, 403, 404})


@contextmanager
def orchestration_errors(conn_id: str, *, default_retry_after_s: float = 30.0) -> Iterator[None]:
    """Re-raise Spotify failures as ``RetryLater`` / ``PermanentFailure`` naming the connection."""
    try:
        yield
    except RetryAfterTooLong as error:
        raise RetryLater(error.retry_after_s, f"{conn_id}: {error}") from error
    except Exception as error:
        translated = translate(error, conn_id, default_retry_after_s=default_retry_after_s)
        if translated is None:
            raise
        raise translated from error


def translate(
    error: BaseException, conn_id: str, *, default_retry_after_s: float = 30.0
) -> Exception | None:
    """The orchestration error for a spotipy failure, or ``None`` to keep the original."""
    kind = type(error).__name__
    if kind in ("SpotifyOauthError", "SpotifyStateError"):
        code = getattr(error, "error", None)
        if code not in _REFUSED_CREDENTIALS:
            # A 429 or 5xx from the accounts service says nothing about the credentials.
            return None
        description = getattr(error, "error_description", None) or str(error)
        return PermanentFailure(
            f"{conn_id}: Spotify refused the credentials ({code}: {description}); "
            "check the connection's client id, secret and refresh token"
        )
    status = getattr(error, "http_status", None)
    if status == 429 and _server_errors_exhausted(error):
        # spotipy reports retries exhausted on 5xx answers as a 429 without headers.
        return None
    if status == 429:
        headers: Any = getattr(error, "headers", None) or {}
        retry_after = _seconds(headers.get("Retry-After")) or default_retry_after_s
        return RetryLater(retry_after, f"{conn_id}: HTTP 429 from Spotify after retries")
    if status in _PERMANENT_STATUSES:
        message = " ".join(str(getattr(error, "msg", error)).split())
        return PermanentFailure(f"{conn_id}: HTTP {status} from Spotify: {message}")
    return None


# OAuth error codes that mean the app or the user's grant is not (or no longer) valid.
_REFUSED_CREDENTIALS = frozenset({"invalid_client", "invalid_grant", "unauthorized_client"})


def _server_errors_exhausted(error: BaseException) -> bool:
    reason = str(getattr(error, "reason", "") or "")
    return any(f"{code} error" in reason for code in (500, 502, 503, 504))


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def write_outcome_unknown(error: BaseException) -> bool:
    """After this error, may a playlist write have been applied (or its plan be stale)?

    Server errors, timeouts, dropped connections and damaged answers say nothing about whether
    Spotify applied the write; a 400 on a planned write means the playlist moved under the plan.
    Both are settled by reading the playlist again, never by repeating the write.
    """
    import requests

    if isinstance(error, MalformedResponse | requests.exceptions.RequestException):
        return True
    status = getattr(error, "http_status", None)
    if getattr(error, "code", None) == -1 and status == 400:
        return False  # spotipy refused the call itself (an unsupported URI): nothing was sent
    return isinstance(status, int) and (status == 400 or status >= 500)
