"""Our payload models accept every object the real API sent in the captured responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spotify_agent.spotify.models import Artist, PlayHistory, SimplifiedAlbum, Track, parse_objects
from tests.shared_data import shared_data_dir


def _captured_files() -> list[Path]:
    root = shared_data_dir() / "spotify-web-api"
    files = sorted(root.glob("responses_*/*.json"))
    assert len(files) >= 90, "the captured responses are missing"
    return files


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key != "linked_from":  # a reference to the relinked track, not a track object
                yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _objects(kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in _captured_files():
        for node in _walk(json.loads(path.read_text())):
            if node.get("type") == kind and "id" in node:
                found.append((path.name, node))
    return found


@pytest.mark.parametrize(
    ("kind", "model", "minimum"),
    [("artist", Artist, 100), ("album", SimplifiedAlbum, 100), ("track", Track, 100)],
)
def test_every_captured_object_parses(kind: str, model: type, minimum: int) -> None:
    objects = _objects(kind)
    assert len(objects) >= minimum
    parsed = parse_objects(model, [node for _, node in objects], source=f"captured:{kind}")
    assert parsed.quarantined == []
    assert len(parsed.valid) == len(objects)


def test_full_artist_keeps_popularity_and_followers_as_sent() -> None:
    path = shared_data_dir() / "spotify-web-api" / "responses_zmb3-spotify" / "find_artist.json"
    payload = json.loads(path.read_text())
    artist = Artist.model_validate(payload)
    assert artist.popularity == payload["popularity"]
    assert artist.follower_count == payload["followers"]["total"]


def test_old_structured_release_dates_become_text() -> None:
    path = shared_data_dir() / "spotify-web-api" / "responses_spotify-web-api-js" / "album.json"
    album = SimplifiedAlbum.model_validate(json.loads(path.read_text()))
    assert album.release_date == "1983"


def test_withheld_fields_are_missing_not_zero() -> None:
    artist = Artist.model_validate(
        {"id": "0OdUWJ0sBjDrqHygGUXeCF", "name": "Band of Horses", "genres": []}
    )
    assert artist.popularity is None and artist.follower_count is None


def test_recently_played_captures_parse_with_their_times() -> None:
    root = shared_data_dir() / "spotify-web-api"
    for path in (
        root / "responses_spotify-web-api-js" / "recently_played_tracks.json",
        root / "responses_zmb3-spotify" / "player_recently_played.json",
    ):
        items = json.loads(path.read_text())["items"]
        parsed = parse_objects(PlayHistory, items, source="captured:recently_played")
        assert parsed.quarantined == [] and len(parsed.valid) == len(items)
        assert all(play.played_at.tzinfo is not None for play in parsed.valid)


def test_bad_objects_are_quarantined_with_the_field_and_good_ones_kept() -> None:
    good = {"id": "0OdUWJ0sBjDrqHygGUXeCF", "name": "Band of Horses"}
    payloads = [good, {"id": "not-an-id", "name": "x"}, {"id": "4Z8W4fKeB5YxbusRsdQVPb"}, None]
    parsed = parse_objects(Artist, payloads, source="spotify:artist")
    assert [artist.id for artist in parsed.valid] == [good["id"]]
    reasons = [(item.field, item.reason) for item in parsed.quarantined]
    assert reasons[0][0] == "id" and "should match pattern" in reasons[0][1]
    assert reasons[1][0] == "name" and "Field required" in reasons[1][1]
    assert reasons[2] == (None, "null object in response")
    assert parsed.quarantined[1].payload == {"id": "4Z8W4fKeB5YxbusRsdQVPb"}
