"""Server-side state other than playlists: accounts and tokens, the rate limiter, call statistics.

All of it is touched only from the server's event loop, so it needs no locks.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from spotify_emulator.catalog import BASE62, Catalog
from spotify_emulator.config import ClientApp, EmulatorConfig, RefreshGrant
from spotify_emulator.errors import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    NO_TOKEN,
    AccountsError,
    SpotifyError,
)
from spotify_emulator.faults import FaultInjector
from spotify_emulator.playlists import PlaylistStore
from spotify_emulator.search import SearchIndex


@dataclass(frozen=True)
class AccessToken:
    token: str
    client_id: str
    expires_at: float  # time.time() seconds
    user_id: str | None = None
    scope: frozenset[str] = frozenset()
    refresh_token: str | None = None


class Accounts:
    """Registered apps, refresh tokens and the access tokens issued from them."""

    def __init__(
        self, clients: Iterable[ClientApp], grants: Iterable[RefreshGrant], default_user: str
    ) -> None:
        self.clients = {client.client_id: client.client_secret for client in clients}
        self.grants: dict[str, RefreshGrant] = {}
        for grant in grants:
            user_id = grant.user_id or default_user
            self.grants[grant.refresh_token] = RefreshGrant(
                grant.refresh_token, grant.client_id, user_id, grant.scope
            )
        self.tokens: dict[str, AccessToken] = {}

    def authenticate_client(self, client_id: str | None, client_secret: str | None) -> str:
        if not client_id or client_id not in self.clients:
            raise AccountsError("invalid_client", "Invalid client")
        if not secrets.compare_digest(self.clients[client_id], client_secret or ""):
            raise AccountsError("invalid_client", "Invalid client secret")
        return client_id

    def issue(
        self,
        client_id: str,
        ttl_s: int,
        *,
        user_id: str | None = None,
        scope: frozenset[str] = frozenset(),
        refresh_token: str | None = None,
    ) -> AccessToken:
        # Real tokens are long opaque strings starting "BQ".
        token = AccessToken(
            token="BQ" + secrets.token_urlsafe(96),
            client_id=client_id,
            expires_at=time.time() + ttl_s,
            user_id=user_id,
            scope=scope,
            refresh_token=refresh_token,
        )
        self.tokens[token.token] = token
        self._forget_expired()
        return token

    def grant_for(self, refresh_token: str | None, client_id: str) -> RefreshGrant:
        grant = self.grants.get(refresh_token or "")
        if grant is None or grant.client_id != client_id:
            raise AccountsError("invalid_grant", "Invalid refresh token")
        return grant

    def lookup(self, authorization: str | None) -> AccessToken:
        """The token of an ``Authorization: Bearer ...`` header, or the 401 Spotify answers."""
        if not authorization:
            raise SpotifyError(401, NO_TOKEN)
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise SpotifyError(400, "Only valid bearer authentication supported")
        token = self.tokens.get(value.strip())
        if token is None:
            raise SpotifyError(401, INVALID_TOKEN)
        if token.expires_at <= time.time():
            raise SpotifyError(401, EXPIRED_TOKEN)
        return token

    def revoke_client(self, client_id: str) -> int:
        """Unregister an app: its tokens stop working and its refresh tokens are refused."""
        if client_id not in self.clients:
            return 0
        del self.clients[client_id]
        for refresh_token in [t for t, g in self.grants.items() if g.client_id == client_id]:
            del self.grants[refresh_token]
        return self._drop(lambda token: token.client_id == client_id)

    def revoke_refresh_token(self, refresh_token: str) -> int:
        """The user withdrew consent: the refresh token and tokens issued from it stop working."""
        if self.grants.pop(refresh_token, None) is None:
            return 0
        return 1 + self._drop(lambda token: token.refresh_token == refresh_token)

    def _drop(self, doomed: Callable[[AccessToken], bool]) -> int:
        victims = [key for key, token in self.tokens.items() if doomed(token)]
        for key in victims:
            del self.tokens[key]
        return len(victims)

    def _forget_expired(self) -> None:
        # Keep expired tokens a while so they answer "expired", not "invalid"; drop old ones.
        horizon = time.time() - 86_400
        if len(self.tokens) > 10_000:
            self._drop(lambda token: token.expires_at < horizon)


class RateLimiter:
    """Rolling window per app: at most ``max_calls`` accepted calls in any ``window_s`` seconds.

    ``retry_after_s`` set means a tripped limit blocks the app for that long (Spotify has been
    seen to answer an hour), so a client that ignores Retry-After keeps being refused.
    """

    def __init__(
        self, max_calls: int | None, window_s: float, retry_after_s: int | None = None
    ) -> None:
        self.reconfigure(max_calls, window_s, retry_after_s)

    def reconfigure(
        self, max_calls: int | None, window_s: float, retry_after_s: int | None = None
    ) -> None:
        self.max_calls = max_calls
        self.window_s = window_s
        self.retry_after_s = retry_after_s
        self._calls: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def check(self, app: str, now: float | None = None) -> int | None:
        """Record a call; return None if accepted, else the Retry-After in whole seconds."""
        if self.max_calls is None:
            return None
        now = time.monotonic() if now is None else now
        blocked_until = self._blocked_until.get(app)
        if blocked_until is not None:
            if now < blocked_until:
                return max(1, math.ceil(blocked_until - now))
            del self._blocked_until[app]
        calls = self._calls.setdefault(app, deque())
        while calls and calls[0] <= now - self.window_s:
            calls.popleft()
        if len(calls) < self.max_calls:
            calls.append(now)
            return None
        if self.retry_after_s is not None:
            self._blocked_until[app] = now + self.retry_after_s
            calls.clear()
            return self.retry_after_s
        # Whole seconds until the oldest call leaves the window and frees a slot.
        return max(1, math.ceil(calls[0] + self.window_s - now))

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_calls": self.max_calls,
            "window_s": self.window_s,
            "retry_after_s": self.retry_after_s,
        }


class Stats:
    """Calls per route template and status, counted after the response is decided."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.by_route: dict[str, Counter[str]] = {}
        self.by_status: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.total = 0

    def record(self, route: str, status: int, fault: str | None = None) -> None:
        self.total += 1
        self.by_route.setdefault(route, Counter())[str(status)] += 1
        self.by_status[str(status)] += 1
        if fault is not None:
            self.faults[fault] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_calls": self.total,
            "rate_limited": self.by_status.get("429", 0),
            "by_status": dict(sorted(self.by_status.items())),
            "by_route": {
                route: dict(sorted(counts.items()))
                for route, counts in sorted(self.by_route.items())
            },
            "faults": dict(sorted(self.faults.items())),
        }


class EmulatorState:
    """Everything one running emulator holds; reached from handlers as ``app.state.emulator``."""

    def __init__(self, config: EmulatorConfig, catalog: Catalog, *, id_seed: int = 0) -> None:
        if not catalog.users:
            raise ValueError("the catalogue has no users: refresh tokens need one to act for")
        self.config = config
        self.catalog = catalog
        self.accounts = Accounts(config.clients, config.refresh_tokens, next(iter(catalog.users)))
        unknown = [
            g.user_id for g in self.accounts.grants.values() if g.user_id not in catalog.users
        ]
        if unknown:
            raise ValueError(f"refresh token(s) bound to unknown user(s): {unknown}")
        self.limiter = RateLimiter(config.rate_limit, config.rate_window_s, config.retry_after_s)
        self.stats = Stats()
        self.injector = FaultInjector(config.faults)
        self.playlists = PlaylistStore(catalog)
        self.search = SearchIndex(catalog)
        # Ids of playlists created at run time: reproducible, never colliding with the catalogue.
        self._id_rng = random.Random(f"emulator-ids:{id_seed}")  # noqa: S311 - not a secret

    def new_id(self) -> str:
        taken = (
            self.catalog.artists.keys() | self.catalog.albums.keys() | self.catalog.tracks.keys()
        )
        while True:
            candidate = "".join(self._id_rng.choice(BASE62) for _ in range(22))
            if candidate not in taken and candidate not in self.playlists.playlists:
                return candidate
