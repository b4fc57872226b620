"""spotipy 2.26 end to end against the emulator, pointed at it the documented way.

``sp.prefix`` carries the API base; the token URL is a class attribute of the auth managers
(patched per test with monkeypatch, so other tests see spotipy unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials

from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.include.spotify_emulator.spotipy_client import user_client

SCOPE = "playlist-modify-public playlist-modify-private user-read-recently-played user-read-private"


def _app_client(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> spotipy.Spotify:
    monkeypatch.setattr(SpotifyClientCredentials, "OAUTH_TOKEN_URL", emulator.token_url)
    auth = SpotifyClientCredentials(
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        cache_handler=MemoryCacheHandler(),
    )
    sp = spotipy.Spotify(auth_manager=auth, requests_timeout=5, retries=0)
    sp.prefix = emulator.api_url + "/"
    return sp


def _user_client(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> spotipy.Spotify:
    """A user client holding only a refresh token, as a stored connection would."""
    return user_client(emulator, monkeypatch, scope=SCOPE)


@pytest.fixture
def fresh() -> Iterator[EmulatorHandle]:
    with run_emulator(seed=5) as emulator:
        yield emulator


def test_catalogue_calls_with_client_credentials(
    fresh: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    sp = _app_client(fresh, monkeypatch)
    catalog = fresh.catalog
    artist_id = max(catalog.artists, key=lambda a: len(catalog.artist_albums(a)))
    assert sp.artist(artist_id)["name"] == catalog.artists[artist_id].name
    assert sp.artist(f"spotify:artist:{artist_id}")["id"] == artist_id
    several = sp.artists(fresh.artist_ids()[:3])["artists"]
    assert [a["id"] for a in several] == fresh.artist_ids()[:3]
    page = sp.artist_albums(
        artist_id, include_groups="album,single,compilation,appears_on", limit=2
    )
    albums = page["items"]
    while page["next"]:
        page = sp.next(page)
        albums += page["items"]
    assert [a["id"] for a in albums] == [album for album, _ in catalog.artist_albums(artist_id)]
    album = catalog.albums[albums[0]["id"]]
    tracks = sp.album_tracks(album.id)
    assert [t["id"] for t in tracks["items"]] == list(album.track_ids)
    name = catalog.artists[artist_id].name
    found = sp.search(f'artist:"{name}"', type="artist,track", limit=5)
    assert artist_id in {a["id"] for a in found["artists"]["items"]}
    page, tracks_found = found["tracks"], []
    while True:
        tracks_found += page["items"]
        if not page["next"]:
            break
        page = sp.next(page)["tracks"]
    expected = {
        t.id
        for t in catalog.tracks.values()
        if any(name.lower() in catalog.artists[a].name.lower() for a in t.artist_ids)
    }
    assert {t["id"] for t in tracks_found} == expected and len(tracks_found) == len(expected)
    assert fresh.stats()["by_status"].keys() == {"200"}


def test_user_calls_with_a_refresh_token(
    fresh: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    sp = _user_client(fresh, monkeypatch)
    history = fresh.catalog.plays[fresh.user_id]
    recent = sp.current_user_recently_played(limit=20)
    assert [item["track"]["id"] for item in recent["items"]] == [p.track_id for p in history[:20]]
    older = sp.next(recent)
    assert older["items"][0]["track"]["id"] == history[20].track_id
    assert sp.me()["id"] == fresh.user_id

    playlist = sp.current_user_playlist_create("Agent mix", public=False, description="made")
    tracks = fresh.track_ids()[:6]
    added = sp.playlist_add_items(playlist["id"], tracks)
    assert added["snapshot_id"] != playlist["snapshot_id"]
    removed = sp.playlist_remove_all_occurrences_of_items(playlist["id"], tracks[:2])
    assert removed["snapshot_id"] != added["snapshot_id"]
    items = sp.playlist_items(playlist["id"], limit=2)
    listed = [entry["item"]["id"] for entry in items["items"]]
    while items["next"]:
        items = sp.next(items)
        listed += [entry["item"]["id"] for entry in items["items"]]
    assert listed == tracks[2:]
    replaced = sp.playlist_replace_items(playlist["id"], tracks[:1])
    assert replaced["snapshot_id"] != removed["snapshot_id"]
    assert sp.playlist_change_details(playlist["id"], name="Renamed", public=True) is None
    full = sp.playlist(playlist["id"])
    assert full["name"] == "Renamed" and full["public"] is True
    assert [entry["item"]["id"] for entry in full["items"]["items"]] == tracks[:1]


def test_development_tier_through_spotipy(monkeypatch: pytest.MonkeyPatch) -> None:
    with run_emulator(tier="development", seed=5) as emulator:
        sp = _app_client(emulator, monkeypatch)
        with pytest.raises(spotipy.SpotifyException) as removed:
            sp.artists(emulator.artist_ids()[:2])
        assert removed.value.http_status == 403
        artist = sp.artist(emulator.artist_ids()[0])
        assert "popularity" not in artist and "followers" not in artist
        with pytest.raises(spotipy.SpotifyException) as too_big:
            sp.search("a", type="track", limit=11)
        assert too_big.value.http_status == 400
