"""Settings of one emulator instance: tier, accounts, limits, faults and the catalogue to serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spotify_emulator.faults import FaultSpec

Tier = Literal["extended", "development"]
TIERS: tuple[Tier, ...] = ("extended", "development")

# Every scope the project's jobs use; the default refresh token carries all of them.
DEFAULT_SCOPE = (
    "user-read-private user-read-email user-read-recently-played user-top-read "
    "playlist-read-private playlist-read-collaborative playlist-modify-public "
    "playlist-modify-private user-library-read user-library-modify"
)
DEFAULT_CLIENT_ID = "demo-client"
DEFAULT_CLIENT_SECRET = "demo-secret"  # noqa: S105 - a fixed credential of a local emulator  # pragma: allowlist secret
DEFAULT_REFRESH_TOKEN = "demo-refresh"  # noqa: S105 - idem
# Spotify publishes no number; 180 calls per rolling 30 s is a commonly observed order of size.
DEFAULT_RATE_LIMIT = 180
DEFAULT_RATE_WINDOW_S = 30.0
# The real endpoint only ever returns the 50 most recent plays.
DEFAULT_RECENTLY_PLAYED_CAP = 50


@dataclass(frozen=True)
class ClientApp:
    """A registered app (client id and secret), the unit the rate limit counts per."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class RefreshGrant:
    """A user's refresh token, bound to one app; ``user_id=None`` means the first user."""

    refresh_token: str
    client_id: str = DEFAULT_CLIENT_ID
    user_id: str | None = None
    scope: str = DEFAULT_SCOPE


@dataclass(frozen=True)
class CatalogSpec:
    """Parameters of the seeded catalogue generator (see :mod:`.generator`)."""

    seed: int = 42
    n_artists: int = 200
    albums_per_artist: int = 3
    tracks_per_album: int = 10
    n_users: int = 5
    events_per_user: int = 300
    playlists_per_user: int = 2
    history_days: float = 14.0
    # End of the generated listening history (unix ms); None: 00:00 UTC of the day the
    # catalogue is generated (the plays of one seed sit at the same instants all day).
    history_end_ms: int | None = None
    # Zipf exponent of artist popularity: larger means a steeper head.
    zipf_exponent: float = 1.15

    def __post_init__(self) -> None:
        if self.n_artists < 1 or self.albums_per_artist < 1 or self.tracks_per_album < 1:
            raise ValueError("n_artists, albums_per_artist and tracks_per_album must be >= 1")
        if self.n_users < 1:
            raise ValueError("n_users must be >= 1 (the default refresh token needs a user)")
        if self.events_per_user < 0 or self.playlists_per_user < 0 or self.history_days <= 0:
            raise ValueError("events_per_user and playlists_per_user must be >= 0, days > 0")


@dataclass(frozen=True)
class EmulatorConfig:
    """Server settings. ``rate_limit=None`` switches the rate limit off."""

    tier: Tier = "extended"
    token_ttl_s: int = 3600
    rate_limit: int | None = DEFAULT_RATE_LIMIT
    rate_window_s: float = DEFAULT_RATE_WINDOW_S
    # When set, a 429 announces this Retry-After and the app stays blocked that long.
    retry_after_s: int | None = None
    faults: FaultSpec = field(default_factory=FaultSpec)
    clients: tuple[ClientApp, ...] = (ClientApp(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),)
    refresh_tokens: tuple[RefreshGrant, ...] = (RefreshGrant(DEFAULT_REFRESH_TOKEN),)
    recently_played_cap: int | None = DEFAULT_RECENTLY_PLAYED_CAP

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}, got {self.tier!r}")
        if self.token_ttl_s < 1:
            raise ValueError("token_ttl_s must be >= 1")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be >= 1, or None for no limit")
        if self.rate_window_s <= 0:
            raise ValueError("rate_window_s must be > 0")
        if not self.clients:
            raise ValueError("at least one client app is needed")
