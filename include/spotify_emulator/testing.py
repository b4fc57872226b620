"""Run the emulator inside a test: a real uvicorn server on a free loopback port, in a thread.

>>> with run_emulator(tier="development", faults="rate=0.1,seed=7") as emulator:
...     sp = spotipy.Spotify(auth_manager=..., requests_timeout=2)
...     sp.prefix = emulator.api_url + "/"
...     SpotifyClientCredentials.OAUTH_TOKEN_URL = emulator.token_url

The handle talks to the admin endpoints over HTTP, so tests observe the server as any client
would; the catalogue it serves is also available in-process as ``handle.catalog``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from spotify_emulator.app import create_app
from spotify_emulator.catalog import Catalog
from spotify_emulator.config import (
    DEFAULT_RATE_WINDOW_S,
    DEFAULT_RECENTLY_PLAYED_CAP,
    CatalogSpec,
    EmulatorConfig,
    Tier,
)
from spotify_emulator.faults import FaultSpec
from spotify_emulator.fixtures import load_fixture
from spotify_emulator.generator import generate_catalog

_UNSET: Any = object()


@dataclass(frozen=True)
class EmulatorHandle:
    """A running emulator: where it listens, how to log in, and its control endpoints."""

    base_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    user_id: str
    tier: Tier
    catalog: Catalog
    config: EmulatorConfig

    @property
    def api_url(self) -> str:
        """Web API base, ``base_url + "/v1"`` (spotipy's ``prefix`` is this plus ``/``)."""
        return f"{self.base_url}/v1"

    @property
    def token_url(self) -> str:
        """Accounts endpoint, for ``SpotifyClientCredentials.OAUTH_TOKEN_URL`` and the like."""
        return f"{self.base_url}/api/token"

    def connection(self, **extra: Any) -> dict[str, Any]:
        """Fields of an Airflow ``spotify`` connection to this emulator (for ``AIRFLOW_CONN_*``).

        ``extra`` adds to or overrides the connection's extra (``tier``, ``accounts_url``,
        ``refresh_token``, ``max_retry_after_s``, ...); ``client_id`` / ``client_secret`` override
        the credentials.
        """
        login = extra.pop("client_id", self.client_id)
        password = extra.pop("client_secret", self.client_secret)
        return {
            "conn_type": "spotify",
            "host": self.base_url,
            "login": login,
            "password": password,
            "extra": {
                "tier": self.tier,
                "accounts_url": self.base_url,
                "refresh_token": self.refresh_token,
                **extra,
            },
        }

    def user_get(self, path: str) -> Any:
        """GET a Web API path (``/playlists/{id}``, or a full ``next`` URL) as the connected user.

        For tests that check what Spotify holds without going through the code under test.
        """
        token = httpx.post(
            self.token_url,
            data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
            auth=(self.client_id, self.client_secret),
            timeout=10,
        ).json()["access_token"]
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        """``{"total_calls", "rate_limited", "by_status", "by_route", "faults"}``."""
        result: dict[str, Any] = self._admin("GET", "/stats")
        return result

    def reset_stats(self) -> None:
        self._admin("POST", "/reset-stats")

    def set_faults(self, faults: FaultSpec | str | None) -> dict[str, Any]:
        """Replace the fault spec (string form or :class:`FaultSpec`); restarts its sequence."""
        spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        result: dict[str, Any] = self._admin("POST", "/faults", {"spec": spec.render()})
        return result

    def set_rate_limit(
        self,
        max_calls: int | None,
        *,
        window_s: float = DEFAULT_RATE_WINDOW_S,
        retry_after_s: int | None = None,
    ) -> dict[str, Any]:
        """Replace the rate limit (``None`` switches it off) and forget past calls."""
        body = {"max_calls": max_calls, "window_s": window_s, "retry_after_s": retry_after_s}
        result: dict[str, Any] = self._admin("POST", "/rate-limit", body)
        return result

    def revoke(self, *, client_id: str | None = None, refresh_token: str | None = None) -> int:
        """Unregister an app or withdraw a refresh token; returns how many grants/tokens died."""
        if (client_id is None) == (refresh_token is None):
            raise ValueError("give exactly one of client_id and refresh_token")
        body = {"client_id": client_id} if client_id else {"refresh_token": refresh_token}
        revoked: int = self._admin("POST", "/revoke", body)["revoked"]
        return revoked

    def artist_ids(self) -> list[str]:
        return list(self.catalog.artists)

    def album_ids(self) -> list[str]:
        return list(self.catalog.albums)

    def track_ids(self) -> list[str]:
        return list(self.catalog.tracks)

    def user_ids(self) -> list[str]:
        return list(self.catalog.users)

    def playlist_ids(self) -> list[str]:
        """Playlists as the server holds them now, including ones created by clients."""
        ids: list[str] = self._admin("GET", "/catalog/playlists")["ids"]
        return ids

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.base_url}/_emulator{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()


def build_catalog(
    catalog: Catalog | CatalogSpec | str | Path | None = None, *, seed: int = 42
) -> Catalog:
    """A catalogue from any of the accepted forms; ``seed`` serves when none is given."""
    if isinstance(catalog, Catalog):
        return catalog
    if isinstance(catalog, CatalogSpec):
        return generate_catalog(catalog)
    if isinstance(catalog, str | Path):
        return load_fixture(catalog, CatalogSpec(seed=seed))
    return generate_catalog(CatalogSpec(seed=seed))


@contextmanager
def run_emulator(
    *,
    tier: Tier = "extended",
    faults: FaultSpec | str | None = None,
    seed: int = 42,
    rate_limit: int | None = None,
    rate_window_s: float = DEFAULT_RATE_WINDOW_S,
    retry_after_s: int | None = None,
    catalog: Catalog | CatalogSpec | str | Path | None = None,
    token_ttl_s: int = 3600,
    recently_played_cap: int | None = DEFAULT_RECENTLY_PLAYED_CAP,
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    startup_timeout_s: float = 15.0,
) -> Iterator[EmulatorHandle]:
    """Start an emulator on a free port of ``host``, yield its handle, stop it on exit.

    ``rate_limit=None`` means no rate limit (tests opt in); ``catalog`` is a catalogue, a
    generator spec, or a fixture path, by default ``CatalogSpec(seed=seed)``. ``config``, when
    given, replaces all server settings (tier, faults, limits, accounts).
    """
    if config is None:
        config = EmulatorConfig(
            tier=tier,
            token_ttl_s=token_ttl_s,
            rate_limit=rate_limit,
            rate_window_s=rate_window_s,
            retry_after_s=retry_after_s,
            faults=faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults),
            recently_played_cap=recently_played_cap,
        )
    served = build_catalog(catalog, seed=seed)
    app = create_app(config, served, id_seed=seed)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [listener]},
        name=f"spotify-emulator-{port}",
        daemon=True,
    )
    thread.start()
    base_url = f"http://{host}:{port}"
    try:
        _wait_until_up(base_url, server, thread, startup_timeout_s)
        grants = list(app.state.emulator.accounts.grants.values())
        yield EmulatorHandle(
            base_url=base_url,
            client_id=config.clients[0].client_id,
            client_secret=config.clients[0].client_secret,
            refresh_token=grants[0].refresh_token if grants else "",
            user_id=(grants[0].user_id if grants else None) or next(iter(served.users)),
            tier=config.tier,
            catalog=served,
            config=config,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def _wait_until_up(
    base_url: str, server: uvicorn.Server, thread: threading.Thread, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"the Spotify emulator at {base_url} stopped during startup")
        if server.started:
            try:
                if httpx.get(f"{base_url}/_emulator/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.02)
    raise RuntimeError(f"the Spotify emulator at {base_url} did not answer within {timeout_s}s")
