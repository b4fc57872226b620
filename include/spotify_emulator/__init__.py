"""Spotify Web API emulator: a real HTTP server (FastAPI + uvicorn) so every DAG runs offline.

It serves a seeded catalogue (or JSON fixtures) through the same paths, parameters, JSON shapes,
error bodies, limits and failure modes as the real service in 2026 (``shared/SPOTIFY_API.md``),
so a client that works against it works against Spotify. No Airflow imports anywhere.

A demo and test server, not business logic: it is its own top-level package beside the business
package ``spotify_agent`` and imports nothing from it. ``make demo`` and the tests start it.

Starting it
-----------
Command line (foreground, uvicorn)::

    python -m spotify_emulator serve --host 127.0.0.1 --port 8765 \\
        --tier development --faults "rate=0.2,seed=7,kinds=429+500+503+truncated" \\
        --seed 42 --artists 200 --users 5 --events-per-user 300 --rate-limit 180
    python -m spotify_emulator serve --fixtures catalog.json
    python -m spotify_emulator generate --seed 42 --out catalog.json

In tests, :func:`spotify_emulator.testing.run_emulator` starts it in a thread on a free port
and yields an ``EmulatorHandle`` (``base_url``, ``api_url``, ``token_url``, ``client_id``,
``client_secret``, ``refresh_token``, ``stats()``, ``set_faults()``, ...).
With spotipy: ``sp.prefix = handle.api_url + "/"`` and
``SpotifyClientCredentials.OAUTH_TOKEN_URL = SpotifyOAuth.OAUTH_TOKEN_URL = handle.token_url``.

Accounts: ``POST /api/token`` (form-encoded; HTTP Basic or ``client_id``/``client_secret``
fields). ``grant_type=client_credentials`` gives a catalogue-only token;
``grant_type=refresh_token`` a user token with ``scope``. Defaults: app ``demo-client`` /
``demo-secret``, refresh token ``demo-refresh`` for the first generated user with every scope.
Wrong id → 400 ``invalid_client``/"Invalid client", wrong secret → "Invalid client secret"
(Spotify distinguishes them), unknown or revoked refresh token → 400 ``invalid_grant``. Access
tokens live ``token_ttl_s`` (3600): then 401 "The access token expired"; unknown 401 "Invalid
access token"; none 401 "No token provided". A client-credentials token on a user endpoint gets
403 "This request requires user authentication."; a missing scope 403 "Insufficient client
scope".

Tiers
-----
``extended``: every endpoint and field as before 2026, plus the new names (``/items``, ``item``).

``development`` (every new app since 2026), per SPOTIFY_API.md and Spotify's 2026 reference:

- removed, answering **403** ``{"error": {"status": 403, "message": "Forbidden"}}``:
  ``GET /artists?ids=``, ``/tracks?ids=``, ``/albums?ids=``, ``/artists/{id}/top-tracks``,
  ``/browse/new-releases``, ``/browse/categories[/{id}]``, ``/markets``, ``/users/{id}``,
  ``GET/POST /users/{id}/playlists``, and all methods of ``/playlists/{id}/tracks``.
  Why 403 and not 404: that is what development-mode apps report from the real service
  (spotatui#517 for top-tracks and ``tracks?ids=``; music-assistant#3436, harmoni#24 and
  spotify-mcp-server#50 for ``/playlists/{id}/tracks``); the routes exist, the app may not use
  them. A path that never existed answers 404 "Service not found".
- renamed: only ``/playlists/{id}/items`` works; playlist objects carry ``items`` (no ``tracks``)
  and playlist items ``item`` (no ``track``); DELETE takes ``{"items": [...]}`` only. Items of a
  playlist are readable only by its owner or a collaborator (403 otherwise).
- limits: search ``limit`` at most 10 (default 5); artist albums at most 10 (default 5, as in
  Spotify's 2026 reference); extended: 50 (default 20).
- withheld fields (key absent, never 0/null): artist ``followers``, ``popularity``; album and
  track ``popularity``, ``available_markets``; user ``country``, ``email``, ``product``,
  ``explicit_content``, ``followers``.

Both tiers: ids must be 22-character base62 (else 400 "invalid id"), unknown ids 404 "Resource
not found", unknown ids inside ``?ids=`` come back as ``null``; over-size ``limit``/``ids``/
``uris`` answer 400 with a message naming the parameter. ``next``/``previous``/``href`` are
absolute URLs on the emulator's own base URL. Every playlist change returns a new
``snapshot_id``; old ones stay valid for removals by position, unknown ones get 400 "Invalid
snapshot id". Recently-played pages by unix-ms cursors (``before`` backwards, ``after``
forwards without gaps) over the ``recently_played_cap`` (50, like the real API) newest plays.
A seeded history ends at 00:00 UTC of the day the emulator starts (``CatalogSpec.history_end_ms``
to choose): its plays sit at the same instants all day, so reading them again adds nothing.

Rate limit
----------
A rolling ``rate_window_s`` (30 s) window per app, at most ``rate_limit`` calls (CLI default 180;
``run_emulator`` default: off). Over it: 429 with ``Retry-After`` (whole seconds until a slot
frees) and ``{"error": {"status": 429, "message": "API rate limit exceeded"}}``. With
``retry_after_s`` (``--retry-after 3600``) a tripped app is told and held blocked that long.
``/api/token`` and ``/_emulator/*`` are never rate limited.

Faults
------
Spec string (``--faults`` / ``run_emulator(faults=...)`` / ``POST /_emulator/faults``)::

    rate=0.2,seed=7,kinds=429+500+502+503+slow+truncated+malformed+missing_fields,
    slow_s=10,retry_after=1,token=0

``rate`` is the fraction of eligible requests that fail (``rate=0``, empty or ``none``: no
faults); the decision for the n-th eligible request depends only on ``(seed, n)``, so a seed
replays the same faults for the same request sequence. Default ``kinds``: all but ``slow``.
``429``/``500``/``502``/``503`` answer before the handler runs (nothing is applied; a 429 carries
``Retry-After: retry_after``). ``slow`` runs the handler (a write *is* applied) and holds the
response ``slow_s`` seconds, past a client's timeout. ``truncated`` (200, body cut mid-JSON),
``malformed`` (200, invalid JSON) and ``missing_fields`` (200, one ``id``/``name``/``uri``/
``snapshot_id``/... removed from one object) damage successful responses only. Eligible: every
``/v1`` request; ``/api/token`` only with ``token=1`` (default off, so fault tests exercise the
Web API rather than the login); ``/_emulator/*`` never.

Admin endpoints (``/_emulator/``; no auth, never limited, faulted or counted)
-----------------------------------------------------------------------------
``GET health``, ``GET stats`` (``total_calls``, ``rate_limited`` = number of 429s, ``by_status``,
``by_route`` = counts per ``"METHOD /route/{template}"`` and status, ``faults`` per kind),
``POST reset-stats``, ``GET|POST faults`` (``{"spec": "..."}`` or the fields),
``POST rate-limit`` (``{"max_calls", "window_s", "retry_after_s"}``), ``POST revoke``
(``{"client_id"}`` or ``{"refresh_token"}``), ``GET catalog/{artists|albums|tracks|users|playlists}``
(``{"ids": [...]}``).

Known differences from the real service: ``fields``, ``market`` and ``additional_types`` are
accepted but not applied; search matches words and field filters only, ranked by popularity;
there are no shows, episodes, audiobooks, audio features or library endpoints; the authorization
code flow is not emulated (users come with refresh tokens).
"""

from __future__ import annotations

from spotify_emulator.config import (
    CatalogSpec,
    ClientApp,
    EmulatorConfig,
    RefreshGrant,
    Tier,
)
from spotify_emulator.faults import FaultSpec, InvalidFaultSpec

__all__ = [
    "CatalogSpec",
    "ClientApp",
    "EmulatorConfig",
    "FaultSpec",
    "InvalidFaultSpec",
    "RefreshGrant",
    "Tier",
]
