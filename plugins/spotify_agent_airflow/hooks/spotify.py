"""SpotifyHook: spotipy clients built from the ``spotify_default`` connection.

Connection fields: host = API base URL (``https://api.spotify.com``, or the bundled emulator),
login = client id, password = client secret; extra: ``tier`` (``extended`` | ``development``),
``accounts_url`` (default ``https://accounts.spotify.com``), ``refresh_token`` (a user's, for
playlist writes and recently-played), ``timeout_s`` (10), ``retries`` (3) and
``max_retry_after_s`` (30).

spotipy already retries 429 and 5xx; this hook only bounds what spotipy leaves unbounded: a
``Retry-After`` longer than ``max_retry_after_s`` raises instead of sleeping (the task is retried
by Airflow after that delay), a 2xx body that is not JSON raises instead of becoming ``None``,
and a write answered 5xx is not repeated blindly (it may have been applied; the caller reads).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

from airflow.sdk import BaseHook
from urllib3.util.retry import Retry

from spotify_agent.spotify.errors import MalformedResponse, RetryAfterTooLong
from spotify_agent.spotify.models import Tier
from spotify_agent.spotify.stats import CallStats

if TYPE_CHECKING:
    import requests
    import spotipy
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

DEFAULT_API_URL = "https://api.spotify.com"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com"
STATUS_FORCELIST = (429, 500, 502, 503, 504)
# Methods urllib3 may repeat after a 5xx; a write answered 5xx may have been applied, and only
# the caller can tell by reading (see spotify_agent.spotify.playlists). A 429 applied nothing.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# spotipy logs request headers (bearer and basic credentials) and token bodies at DEBUG; Airflow's
# masker cannot recognise a base64 "id:secret". Keep its loggers at INFO whatever the root level.
for _name in ("spotipy", "spotipy.client", "spotipy.oauth2"):
    logging.getLogger(_name).setLevel(logging.INFO)

# Tokens per (accounts URL, client id, grant, refresh token): hooks of the same app and user share
# them; two users of one app never do (in `airflow dags test` every task runs in one process).
_TOKEN_CACHES: dict[tuple[str, str, str, str], Any] = {}
_TOKEN_CACHES_LOCK = threading.Lock()


@dataclass(frozen=True)
class SpotifySettings:
    conn_id: str
    api_url: str
    accounts_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    tier: Tier
    timeout_s: float
    retries: int
    max_retry_after_s: float

    @property
    def token_url(self) -> str:
        return self.accounts_url.rstrip("/") + "/api/token"


def settings_from_connection(conn_id: str, connection: Any) -> SpotifySettings:
    # A run conf can name the connection: refuse to send another service's credentials to Spotify.
    if connection.conn_type != "spotify":
        raise ValueError(f"{conn_id}: is a {connection.conn_type!r} connection, not 'spotify'")
    extra: dict[str, Any] = connection.extra_dejson or {}
    tier = str(extra.get("tier", "development"))
    if tier not in ("extended", "development"):
        raise ValueError(f"{conn_id}: extra.tier must be 'extended' or 'development', not {tier!r}")
    if not connection.login or not connection.password:
        raise ValueError(
            f"{conn_id}: the client id (login) and client secret (password) are required"
        )
    return SpotifySettings(
        conn_id=conn_id,
        api_url=(connection.host or DEFAULT_API_URL).rstrip("/"),
        accounts_url=str(extra.get("accounts_url") or DEFAULT_ACCOUNTS_URL).rstrip("/"),
        client_id=connection.login,
        client_secret=connection.password,
        refresh_token=extra.get("refresh_token") or None,
        tier=cast(Tier, tier),
        timeout_s=float(extra.get("timeout_s", 10)),
        retries=int(extra.get("retries", 3)),
        max_retry_after_s=float(extra.get("max_retry_after_s", 30)),
    )


class BoundedRetry(Retry):
    """urllib3 retries that refuse to sleep longer than ``retry_after_max`` and count attempts."""

    stats: CallStats | None = None

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.stats = self.stats
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        # Attempts that urllib3 retries never reach requests' response hooks: count them here.
        if response is not None and self.stats is not None:
            self.stats.record(method or "GET", url or "", int(response.status))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in IDEMPOTENT_METHODS and status_code != 429:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def sleep_for_retry(self, response: Any) -> bool:
        header = response.headers.get("Retry-After")
        if header is not None:
            wanted = Retry(retry_after_max=10**9).parse_retry_after(header)
            if wanted > self.retry_after_max:
                raise RetryAfterTooLong(wanted, str(getattr(response, "url", "") or ""))
        return bool(super().sleep_for_retry(response))


class SpotifyHook(BaseHook):
    """Catalogue client (client credentials) and user client (refresh token) for one connection."""

    conn_name_attr = "spotify_conn_id"
    default_conn_name = "spotify_default"
    conn_type = "spotify"
    hook_name = "Spotify Web API"

    def __init__(self, spotify_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.spotify_conn_id = spotify_conn_id
        self.stats = CallStats()

    @cached_property
    def settings(self) -> SpotifySettings:
        settings = settings_from_connection(
            self.spotify_conn_id, self.get_connection(self.spotify_conn_id)
        )
        mask_basic_credentials(settings.client_id, settings.client_secret)
        return settings

    @property
    def tier(self) -> Tier:
        return self.settings.tier

    @cached_property
    def client(self) -> spotipy.Spotify:
        """Catalogue endpoints, authorised by the client-credentials grant."""
        import spotipy

        s = self.settings
        manager_class = type(
            "ClientCredentials",
            (spotipy.SpotifyClientCredentials,),
            {"OAUTH_TOKEN_URL": s.token_url},
        )
        manager = manager_class(
            client_id=s.client_id,
            client_secret=s.client_secret,
            cache_handler=_token_cache(s, "client_credentials"),
            requests_timeout=s.timeout_s,
        )
        return self._spotify(manager)

    @cached_property
    def user_client(self) -> spotipy.Spotify:
        """Endpoints that act for the connected user (playlists, recently played)."""
        import spotipy

        s = self.settings
        if not s.refresh_token:
            raise ValueError(f"{s.conn_id}: extra.refresh_token is required for user endpoints")
        manager_class = type("UserOAuth", (spotipy.SpotifyOAuth,), {"OAUTH_TOKEN_URL": s.token_url})
        manager = manager_class(
            client_id=s.client_id,
            client_secret=s.client_secret,
            # Never used: the refresh token was obtained once, outside Airflow.
            redirect_uri="http://127.0.0.1:8765/callback",
            cache_handler=_token_cache(s, "refresh_token"),
            open_browser=False,
            requests_timeout=s.timeout_s,
        )
        return self._spotify(manager)

    def _spotify(self, auth_manager: Any) -> spotipy.Spotify:
        import spotipy

        s = self.settings
        stats = self.stats
        retry_class = type("Retry", (BoundedRetry,), {"stats": stats})

        class BoundedSpotify(spotipy.Spotify):  # type: ignore[misc]
            def _build_session(self) -> None:
                super()._build_session()
                retry = retry_class(
                    total=s.retries,
                    connect=None,
                    read=False,
                    # urllib3 repeats "other" errors (a TLS EOF while reading an answer) whatever
                    # the method: a write could apply twice. Reads are repeated by Resilient.
                    other=0,
                    allowed_methods=frozenset(["GET", "POST", "PUT", "DELETE"]),
                    status=s.retries,
                    backoff_factor=0.3,
                    status_forcelist=STATUS_FORCELIST,
                    retry_after_max=int(s.max_retry_after_s),
                )
                adapter = _adapter(retry)
                self._session.mount("http://", adapter)
                self._session.mount("https://", adapter)
                self._session.hooks["response"].append(_count_and_check(stats))

        client = BoundedSpotify(auth_manager=auth_manager, requests_timeout=s.timeout_s)
        client.prefix = s.api_url + "/v1/"
        return client

    def test_connection(self) -> tuple[bool, str]:
        """Get a token and make one cheap catalogue call."""
        try:
            self.client.search(q="a", type="artist", limit=1)
        except Exception as error:  # noqa: BLE001 - report, do not raise, from a connection test
            return False, f"{type(error).__name__}: {error}"
        return True, f"token and search ok ({self.settings.tier} tier, {self.settings.api_url})"


def _token_cache(settings: SpotifySettings, grant: str) -> Any:
    user = (
        hashlib.sha256((settings.refresh_token or "").encode()).hexdigest()
        if grant == "refresh_token"
        else ""
    )
    key = (settings.token_url, settings.client_id, grant, user)
    with _TOKEN_CACHES_LOCK:
        cache = _TOKEN_CACHES.get(key)
        if cache is None:
            token_info = None
            if grant == "refresh_token":
                # An expired placeholder: spotipy refreshes it with the stored refresh token.
                token_info = {
                    "access_token": "",
                    "refresh_token": settings.refresh_token,
                    "expires_at": 0,
                    "scope": "",
                }
            cache = _TOKEN_CACHES[key] = _masking_cache(token_info)
        return cache


def _masking_cache(token_info: dict[str, Any] | None) -> Any:
    """spotipy's memory cache, registering every token it is handed with Airflow's masker:
    tokens are issued at run time, and spotipy's debug log prints the Authorization header."""
    from spotipy.cache_handler import MemoryCacheHandler

    class MaskingMemoryCache(MemoryCacheHandler):  # type: ignore[misc]
        def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
            mask_tokens(token_info)
            super().save_token_to_cache(token_info)

    mask_tokens(token_info)
    return MaskingMemoryCache(token_info=token_info)


def mask_tokens(token_info: dict[str, Any] | None) -> None:
    from airflow.sdk.log import mask_secret

    for name in ("access_token", "refresh_token"):
        if value := (token_info or {}).get(name):
            mask_secret(value)


def mask_basic_credentials(client_id: str, client_secret: str) -> None:
    """The ``Authorization: Basic`` value of token requests, which spotipy also logs."""
    import base64

    from airflow.sdk.log import mask_secret

    if client_id and client_secret:
        mask_secret(base64.b64encode(f"{client_id}:{client_secret}".encode()).decode())


def _adapter(retry: Retry) -> Any:
    import requests

    return requests.adapters.HTTPAdapter(max_retries=retry)


def _count_and_check(stats: CallStats) -> Any:
    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        from spotify_agent_airflow.tracing import record_http_span

        method, elapsed_ms = (
            response.request.method or "GET",
            response.elapsed.total_seconds() * 1000,
        )
        stats.record(method, response.url, response.status_code, elapsed_ms)
        record_http_span(method, response.url, response.status_code, elapsed_ms)
        if 200 <= response.status_code < 300 and response.content:
            try:
                json.loads(response.content)
            except ValueError as error:
                raise MalformedResponse(response.url, response.content, str(error)) from None
        return response

    return hook
