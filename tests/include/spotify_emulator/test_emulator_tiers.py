"""The two access tiers: what development mode removes, renames, caps and withholds."""

from __future__ import annotations

from typing import Any

import pytest
from spotify_emulator_support import Api

# (method, path template, JSON body, needs a user token); {a} artist, {al} album, {t} track,
# {u} the token's user, {p} a playlist of that user.
REMOVED_IN_DEVELOPMENT: list[tuple[str, str, Any, bool]] = [
    ("GET", "/artists?ids={a}", None, False),
    ("GET", "/artists/?ids={a}", None, False),  # spotipy's spelling
    ("GET", "/tracks?ids={t}", None, False),
    ("GET", "/albums?ids={al}", None, False),
    ("GET", "/artists/{a}/top-tracks?market=US", None, False),
    ("GET", "/browse/new-releases", None, False),
    ("GET", "/browse/categories", None, False),
    ("GET", "/markets", None, False),
    ("GET", "/users/{u}", None, False),
    ("GET", "/users/{u}/playlists", None, True),
    ("POST", "/users/{u}/playlists", {"name": "x"}, True),
    ("GET", "/playlists/{p}/tracks", None, True),
    ("POST", "/playlists/{p}/tracks", {"uris": ["spotify:track:{t}"]}, True),
    ("PUT", "/playlists/{p}/tracks", {"uris": ["spotify:track:{t}"]}, True),
    ("DELETE", "/playlists/{p}/tracks", {"items": [{"uri": "spotify:track:{t}"}]}, True),
]


def _fill(api: Api, template: Any, playlist: str) -> Any:
    values = {
        "a": api.handle.artist_ids()[0],
        "al": api.handle.album_ids()[0],
        "t": api.handle.track_ids()[0],
        "u": api.handle.user_id,
        "p": playlist,
    }
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, list):
        return [_fill(api, part, playlist) for part in template]
    if isinstance(template, dict):
        return {key: _fill(api, value, playlist) for key, value in template.items()}
    return template


@pytest.mark.parametrize(
    ("method", "path", "body", "user"),
    REMOVED_IN_DEVELOPMENT,
    ids=[f"{m} {p}" for m, p, _, _ in REMOVED_IN_DEVELOPMENT],
)
def test_removed_endpoints_answer_403_in_development_only(
    ext_api: Api, dev_api: Api, method: str, path: str, body: Any, user: bool
) -> None:
    for api, expected in ((dev_api, {403}), (ext_api, {200, 201})):
        playlist = api.own_playlist()
        response = api.call(
            method, _fill(api, path, playlist), user=user, json=_fill(api, body, playlist)
        )
        assert response.status_code in expected, (api.handle.tier, response.text)
        if api is dev_api:
            assert response.json() == {"error": {"status": 403, "message": "Forbidden"}}


def test_tracks_by_id_per_tier_null_or_404_for_an_unknown_id(ext_api: Api, dev_api: Api) -> None:
    """What the ingest's lookup of unknown tracks relies on: several tracks (up to 50, in the
    order asked, ``null`` for an id Spotify does not know) on the extended tier only; one track
    by id in both tiers, 404 for an unknown id."""
    unknown = "0NoSuchTrack0000000001"
    for api in (ext_api, dev_api):
        known = api.handle.track_ids()[:3]
        for track_id in known:
            assert api.ok("GET", f"/tracks/{track_id}")["id"] == track_id
        missing = api.get(f"/tracks/{unknown}")
        assert missing.status_code == 404, (api.handle.tier, missing.text)
        assert missing.json()["error"]["status"] == 404
    known = ext_api.handle.track_ids()[:3]
    batch = ext_api.ok("GET", "/tracks", params={"ids": ",".join([known[0], unknown, *known[1:]])})
    assert [t and t["id"] for t in batch["tracks"]] == [known[0], None, *known[1:]]
    too_many = ",".join(ext_api.handle.track_ids()[:51])
    assert ext_api.get("/tracks", params={"ids": too_many}).status_code == 400
    assert dev_api.get("/tracks", params={"ids": known[0]}).status_code == 403


def test_items_path_works_in_both_tiers_and_unknown_paths_are_404(tier_api: Api) -> None:
    playlist = tier_api.own_playlist()
    track = f"spotify:track:{tier_api.handle.track_ids()[0]}"
    added = tier_api.call("POST", f"/playlists/{playlist}/items", user=True, json={"uris": [track]})
    assert added.status_code == 201
    page = tier_api.ok("GET", f"/playlists/{playlist}/items", user=True)
    assert page["total"] == 1
    missing = tier_api.get("/no/such/endpoint")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == 404


@pytest.mark.parametrize(
    ("tier", "default", "maximum"), [("extended", 20, 50), ("development", 5, 10)]
)
def test_search_limit_per_tier(
    request: pytest.FixtureRequest, tier: str, default: int, maximum: int
) -> None:
    api: Api = request.getfixturevalue("ext_api" if tier == "extended" else "dev_api")
    query = {"q": "a", "type": "track"}
    page = api.ok("GET", "/search", params=query)["tracks"]
    assert page["total"] > maximum  # enough matches for the limits to show
    assert len(page["items"]) == page["limit"] == default
    assert (
        len(api.ok("GET", "/search", params={**query, "limit": maximum})["tracks"]["items"])
        == maximum
    )
    too_many = api.get("/search", params={**query, "limit": maximum + 1})
    assert too_many.status_code == 400
    assert "limit" in too_many.json()["error"]["message"]


def test_artist_albums_limit_per_tier(ext_api: Api, dev_api: Api) -> None:
    artist = ext_api.handle.artist_ids()[0]
    assert ext_api.get(f"/artists/{artist}/albums", params={"limit": 50}).status_code == 200
    assert dev_api.get(f"/artists/{artist}/albums", params={"limit": 10}).status_code == 200
    refused = dev_api.get(f"/artists/{artist}/albums", params={"limit": 11})
    assert refused.status_code == 400
    assert "limit" in refused.json()["error"]["message"]


WITHHELD = {
    "artist": {"followers", "popularity"},
    "album": {"popularity", "available_markets"},
    "track": {"popularity", "available_markets"},
    "user": {"country", "email", "product", "explicit_content", "followers"},
}


def _objects(api: Api) -> dict[str, list[dict[str, Any]]]:
    handle = api.handle
    artist, album, track = handle.artist_ids()[0], handle.album_ids()[0], handle.track_ids()[0]
    full_track = api.ok("GET", f"/tracks/{track}")
    full_album = api.ok("GET", f"/albums/{album}")
    searched = api.ok("GET", "/search", params={"q": "a", "type": "artist,album,track", "limit": 3})
    played = api.ok("GET", "/me/player/recently-played", user=True, params={"limit": 2})
    return {
        "artist": [api.ok("GET", f"/artists/{artist}"), *searched["artists"]["items"]],
        "album": [
            full_album,
            full_track["album"],
            *searched["albums"]["items"],
            *api.ok("GET", f"/artists/{artist}/albums")["items"],
        ],
        "track": [
            full_track,
            *full_album["tracks"]["items"],
            *searched["tracks"]["items"],
            *[item["track"] for item in played["items"]],
        ],
        "user": [api.ok("GET", "/me", user=True)],
    }


def test_development_withholds_fields_by_leaving_them_out(dev_api: Api) -> None:
    for kind, objects in _objects(dev_api).items():
        for obj in objects:
            leaked = WITHHELD[kind] & obj.keys()
            assert not leaked, f"{kind} {obj.get('id')} carries {leaked}"
            assert "id" in obj and "name" in obj or kind == "user"


def test_extended_sends_the_fields_with_real_values(ext_api: Api) -> None:
    for kind, objects in _objects(ext_api).items():
        for obj in objects:
            # Simplified albums and tracks never carry popularity, in any tier.
            simplified = (kind == "album" and "label" not in obj) or (
                kind == "track" and "album" not in obj
            )
            expected = WITHHELD[kind] - ({"popularity"} if simplified else set())
            assert expected <= obj.keys(), f"{kind} {obj.get('id')} lacks {expected - obj.keys()}"
            assert all(obj[key] is not None for key in expected)


def test_development_playlist_shape_uses_the_new_names(ext_api: Api, dev_api: Api) -> None:
    for api in (ext_api, dev_api):
        playlist = next(
            p for p in api.handle.catalog.playlists.values() if p.owner_id == api.handle.user_id
        )
        full = api.ok("GET", f"/playlists/{playlist.id}", user=True)
        entry = full["items"]["items"][0]
        assert entry["item"]["type"] == "track"
        if api is dev_api:
            assert "tracks" not in full and "track" not in entry
        else:
            assert full["tracks"]["total"] == full["items"]["total"]
            assert entry["track"] == entry["item"]


def test_development_reads_items_only_of_own_playlists(ext_api: Api, dev_api: Api) -> None:
    for api in (ext_api, dev_api):
        foreign = next(
            p for p in api.handle.catalog.playlists.values() if p.owner_id != api.handle.user_id
        )
        items = api.get(f"/playlists/{foreign.id}/items", user=True)
        playlist = api.ok("GET", f"/playlists/{foreign.id}", user=True)
        if api is dev_api:
            assert items.status_code == 403
            assert "items" not in playlist
        else:
            assert items.status_code == 200
            assert playlist["items"]["total"] == len(foreign.track_ids)


def test_development_delete_takes_items_not_tracks(ext_api: Api, dev_api: Api) -> None:
    for api in (ext_api, dev_api):
        playlist = api.own_playlist()
        uri = f"spotify:track:{api.handle.track_ids()[0]}"
        api.ok("POST", f"/playlists/{playlist}/items", user=True, json={"uris": [uri, uri]})
        legacy_body = api.call(
            "DELETE", f"/playlists/{playlist}/items", user=True, json={"tracks": [{"uri": uri}]}
        )
        assert legacy_body.status_code == (400 if api is dev_api else 200)
        api.ok("DELETE", f"/playlists/{playlist}/items", user=True, json={"items": [{"uri": uri}]})
        assert api.ok("GET", f"/playlists/{playlist}/items", user=True)["total"] == 0
