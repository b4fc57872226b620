"""Playlist writes with snapshot ids, offset paging by ``next`` links, and recently-played cursors."""

from __future__ import annotations

import time
from typing import Any

import pytest
from spotify_emulator_support import Api

from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import run_emulator


def _uris(api: Api, count: int, start: int = 0) -> list[str]:
    return [f"spotify:track:{t}" for t in api.handle.track_ids()[start : start + count]]


def _content(api: Api, playlist: str) -> list[str]:
    page = api.ok("GET", f"/playlists/{playlist}/items", user=True, params={"limit": 50})
    return [entry["item"]["uri"] for entry in page["items"]]


def test_every_playlist_change_returns_a_new_snapshot_id(tier_api: Api) -> None:
    a, b, c, d = _uris(tier_api, 4)
    playlist = tier_api.own_playlist()
    items = f"/playlists/{playlist}/items"
    snapshots = [tier_api.ok("GET", f"/playlists/{playlist}", user=True)["snapshot_id"]]
    snapshots.append(tier_api.ok("POST", items, user=True, json={"uris": [a, b]})["snapshot_id"])
    snapshots.append(
        tier_api.ok("POST", items, user=True, json={"uris": [c], "position": 0})["snapshot_id"]
    )
    assert _content(tier_api, playlist) == [c, a, b]
    reordered = {"range_start": 0, "insert_before": 3, "snapshot_id": snapshots[-1]}
    snapshots.append(tier_api.ok("PUT", items, user=True, json=reordered)["snapshot_id"])
    assert _content(tier_api, playlist) == [a, b, c]
    snapshots.append(tier_api.ok("PUT", items, user=True, json={"uris": [d, a, d]})["snapshot_id"])
    removal = {"items": [{"uri": d}]}
    snapshots.append(tier_api.ok("DELETE", items, user=True, json=removal)["snapshot_id"])
    assert _content(tier_api, playlist) == [a]
    tier_api.ok("PUT", f"/playlists/{playlist}", user=True, json={"description": "edited"})
    details = tier_api.ok("GET", f"/playlists/{playlist}", user=True)
    snapshots.append(details["snapshot_id"])
    assert details["description"] == "edited"
    assert len(set(snapshots)) == len(snapshots)


def test_removal_by_position_refers_to_the_named_snapshot(ext_api: Api) -> None:
    a, b, c = _uris(ext_api, 3)
    playlist = ext_api.own_playlist()
    items = f"/playlists/{playlist}/items"
    seen = ext_api.ok("POST", items, user=True, json={"uris": [a, b, a]})["snapshot_id"]
    ext_api.ok("POST", items, user=True, json={"uris": [c], "position": 0})  # someone else edits
    # Position 2 of the version the client saw is the second "a", now at index 3.
    body = {"items": [{"uri": a, "positions": [2]}], "snapshot_id": seen}
    ext_api.ok("DELETE", items, user=True, json=body)
    assert _content(ext_api, playlist) == [c, a, b]
    unknown = ext_api.call(
        "DELETE", items, user=True, json={"items": [{"uri": a}], "snapshot_id": "bm9wZQ=="}
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Invalid snapshot id"


def test_playlist_write_limits_and_ownership(ext_api: Api) -> None:
    playlist = ext_api.own_playlist()
    items = f"/playlists/{playlist}/items"
    too_many = ext_api.call("POST", items, user=True, json={"uris": _uris(ext_api, 101)})
    assert too_many.status_code == 400
    assert "uris" in too_many.json()["error"]["message"]
    bad_uri = ext_api.call("POST", items, user=True, json={"uris": ["spotify:track:nope"]})
    assert bad_uri.status_code == 400
    unknown = ext_api.call("POST", items, user=True, json={"uris": ["spotify:track:" + "a" * 22]})
    assert unknown.status_code == 400
    foreign = next(
        p for p in ext_api.handle.catalog.playlists.values() if p.owner_id != ext_api.handle.user_id
    )
    refused = ext_api.call(
        "POST", f"/playlists/{foreign.id}/items", user=True, json={"uris": _uris(ext_api, 1)}
    )
    assert refused.status_code == 403
    assert _content(ext_api, playlist) == []


def _follow(api: Api, first: dict[str, Any], key: str | None = None) -> list[dict[str, Any]]:
    """All pages of a paging object, by its ``next`` links alone."""
    pages = [first]
    while pages[-1]["next"]:
        body = api.ok("GET", pages[-1]["next"], user=True)
        pages.append(body[key] if key else body)
    return pages


@pytest.mark.parametrize("limit", [1, 4, 7])
def test_next_links_reach_total_exactly(ext_api: Api, limit: int) -> None:
    catalog = ext_api.handle.catalog
    artist = max(catalog.artists, key=lambda a: len(catalog.artist_albums(a)))
    album = max(catalog.albums.values(), key=lambda a: len(a.track_ids))
    playlist = max(catalog.playlists.values(), key=lambda p: len(p.track_ids))
    params = {"limit": limit}
    chains = {
        "artist albums": (
            ext_api.ok("GET", f"/artists/{artist}/albums", params=params),
            None,
            len(catalog.artist_albums(artist)),
        ),
        "album tracks": (
            ext_api.ok("GET", f"/albums/{album.id}/tracks", params=params),
            None,
            len(album.track_ids),
        ),
        "search": (
            ext_api.ok("GET", "/search", params={"q": "silver", "type": "track", **params})[
                "tracks"
            ],
            "tracks",
            None,
        ),
        # The extended tier reads any user's playlist.
        "playlist items": (
            ext_api.ok("GET", f"/playlists/{playlist.id}/items", user=True, params=params),
            None,
            len(playlist.track_ids),
        ),
    }
    for name, (first, key, expected_total) in chains.items():
        pages = _follow(ext_api, first, key)
        items = [item for page in pages for item in page["items"]]
        total = first["total"]
        assert total > limit, name  # the chain really pages
        assert expected_total is None or total == expected_total, name
        assert len(items) == total, name
        assert all(page["limit"] == limit for page in pages), name
        assert [page["offset"] for page in pages] == list(range(0, total, limit)), name
        assert pages[0]["previous"] is None and pages[1]["previous"] == pages[0]["href"], name
        if name != "playlist items":  # a playlist may hold a track twice
            ids = [item["id"] for item in items]
            assert len(set(ids)) == len(ids), name


def test_next_links_are_absolute_urls_on_the_emulator(ext_api: Api) -> None:
    artist = ext_api.handle.artist_ids()[0]
    page = ext_api.ok("GET", f"/artists/{artist}/albums/", params={"limit": 1})
    assert page["next"].startswith(f"{ext_api.handle.api_url}/artists/{artist}/albums?")
    assert page["href"].startswith(ext_api.handle.base_url)


def test_recently_played_cursors_page_backwards_without_gaps() -> None:
    spec = CatalogSpec(
        seed=3, n_artists=30, albums_per_artist=2, tracks_per_album=6, n_users=2, events_per_user=80
    )
    with run_emulator(catalog=spec, recently_played_cap=None) as emulator:
        api = Api(emulator)
        history = emulator.catalog.plays[emulator.user_id]
        first = api.ok("GET", "/me/player/recently-played", user=True, params={"limit": 7})
        pages = _follow(api, first)
        items = [item for page in pages for item in page["items"]]
        played = [item["played_at"] for item in items]
        assert len(items) == len(history) == 80
        assert [item["track"]["id"] for item in items] == [play.track_id for play in history]
        assert played == sorted(played, reverse=True) and len(set(played)) == len(played)
        for page in pages:
            cursors = page["cursors"]
            assert int(cursors["after"]) > int(cursors["before"])
            if page["next"]:
                assert f"before={cursors['before']}" in page["next"]
        assert pages[-1]["next"] is None
        # Past the oldest play there is nothing, and no cursors.
        oldest = int(pages[-1]["cursors"]["before"])
        empty = api.ok("GET", "/me/player/recently-played", user=True, params={"before": oldest})
        assert empty["items"] == [] and empty["cursors"] is None and empty["next"] is None
        api.close()


def test_recently_played_after_pages_forward_and_validates_parameters() -> None:
    spec = CatalogSpec(
        seed=4, n_artists=20, albums_per_artist=1, tracks_per_album=5, n_users=1, events_per_user=30
    )
    with run_emulator(catalog=spec, recently_played_cap=None) as emulator:
        api = Api(emulator)
        history = emulator.catalog.plays[emulator.user_id]
        start = history[-1].played_at_ms - 1
        first = api.ok(
            "GET", "/me/player/recently-played", user=True, params={"after": start, "limit": 8}
        )
        pages = _follow(api, first)
        # Pages run forward in time; each page lists its plays newest first.
        seen = [item["track"]["id"] for page in pages for item in reversed(page["items"])]
        assert seen == [play.track_id for play in reversed(history)]
        for params in ({"limit": 51}, {"after": 1, "before": 2}, {"before": "yesterday"}):
            response = api.get("/me/player/recently-played", user=True, params=params)
            assert response.status_code == 400, params
        api.close()


def test_recently_played_shows_only_the_newest_50_like_spotify(ext_api: Api) -> None:
    history = ext_api.handle.catalog.plays[ext_api.handle.user_id]
    assert len(history) > 50
    pages = _follow(
        ext_api, ext_api.ok("GET", "/me/player/recently-played", user=True, params={"limit": 50})
    )
    assert [item["track"]["id"] for page in pages for item in page["items"]] == [
        play.track_id for play in history[:50]
    ]


def _recently_played_at(spec: CatalogSpec) -> tuple[list[str], int]:
    """The played_at values one emulator serves the user, and the day start they were served on."""
    from spotify_emulator.generator import start_of_utc_day_ms

    with run_emulator(catalog=spec) as emulator:
        api = Api(emulator)
        page = api.ok("GET", "/me/player/recently-played", user=True, params={"limit": 50})
        api.close()
    return [item["played_at"] for item in page["items"]], start_of_utc_day_ms()


def test_two_emulators_of_one_day_serve_the_same_plays_at_the_same_instants() -> None:
    """What a second `make demo` sees: a new emulator process, the same seed, the same day."""
    from datetime import UTC, datetime

    spec = CatalogSpec(seed=42, n_artists=20, tracks_per_album=5, n_users=1, events_per_user=60)
    for _ in range(2):  # a run that straddles 00:00 UTC compares two days: once more
        first, day = _recently_played_at(spec)
        time.sleep(1.1)  # a history that followed the clock would have moved by now
        again, day_again = _recently_played_at(spec)
        if day == day_again:
            break
    assert again == first and len(first) == 50
    served = [datetime.fromisoformat(value.replace("Z", "+00:00")) for value in first]
    midnight = datetime.fromtimestamp(day / 1000, UTC)
    # Recent enough for a cursor: the history's 14 days end just before today began.
    assert all(at < midnight for at in served)
    assert (midnight - served[0]).total_seconds() < 3600
