"""A spotipy user client of the emulator, as a stored connection holds one: only a refresh token
(the access token has expired, so spotipy refreshes first), the emulator's API as its prefix."""

from __future__ import annotations

import pytest
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyOAuth

from spotify_emulator.testing import EmulatorHandle


def user_client(
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    *,
    scope: str,
    client_secret: str = "",
    refresh_token: str = "",
) -> spotipy.Spotify:
    """``client_secret`` / ``refresh_token``: others than the emulator's, to be refused."""
    monkeypatch.setattr(SpotifyOAuth, "OAUTH_TOKEN_URL", emulator.token_url)
    stored = {
        "access_token": "expired",
        "token_type": "Bearer",
        "expires_in": 3600,
        "expires_at": 0,  # forces spotipy to refresh first
        "scope": scope,
        "refresh_token": refresh_token or emulator.refresh_token,
    }
    auth = SpotifyOAuth(
        client_id=emulator.client_id,
        client_secret=client_secret or emulator.client_secret,
        redirect_uri="http://127.0.0.1:9/callback",
        scope=scope,
        cache_handler=MemoryCacheHandler(stored),
        open_browser=False,
    )
    client = spotipy.Spotify(auth_manager=auth, requests_timeout=5, retries=0)
    client.prefix = emulator.api_url + "/"
    return client
