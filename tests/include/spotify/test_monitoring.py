from __future__ import annotations

from datetime import date

import pytest

from spotify_agent.core.run_conf import InvalidRunConf
from spotify_agent.spotify.confs import ArtistMonitoringConf
from spotify_agent.spotify.models import Artist, SimplifiedAlbum
from spotify_agent.spotify.monitoring import (
    ArtistSnapshot,
    batches,
    detect_changes,
)

ARTIST = "0OdUWJ0sBjDrqHygGUXeCF"
DAY1, DAY2 = date(2026, 11, 25), date(2026, 11, 26)


def _snapshot(on: date, **fields: object) -> ArtistSnapshot:
    values: dict[str, object] = dict(
        artist_id=ARTIST,
        snapshot_date=on,
        name="Band of Horses",
        genres=("indie",),
        popularity=60,
        followers=100_000,
        release_ids=("1" * 22, "2" * 22),
    )
    values.update(fields)
    return ArtistSnapshot(**values)  # type: ignore[arg-type]


def _changes(
    previous: ArtistSnapshot | None, current: ArtistSnapshot
) -> list[tuple[str, str, str | None, str | None]]:
    events = detect_changes(previous, current, follower_jump_pct=10, popularity_jump=5)
    return [(e.event_type, e.subject, e.before, e.after) for e in events]


def test_first_snapshot_is_a_baseline_without_events() -> None:
    assert _changes(None, _snapshot(DAY2)) == []


def test_unchanged_artist_has_no_events() -> None:
    assert _changes(_snapshot(DAY1), _snapshot(DAY2, followers=105_000, popularity=62)) == []


def test_each_kind_of_change_is_reported_with_before_and_after() -> None:
    current = _snapshot(
        DAY2,
        name="Band of Horses (US)",
        genres=("indie", "rock"),
        popularity=70,
        followers=120_000,
        release_ids=("1" * 22, "2" * 22, "3" * 22),
    )
    assert _changes(_snapshot(DAY1), current) == [
        ("new_release", "3" * 22, None, "3" * 22),
        ("followers_jump", "followers", "100000", "120000"),
        ("popularity_jump", "popularity", "60", "70"),
        ("genres_changed", "genres", "indie", "indie,rock"),
        ("name_changed", "name", "Band of Horses", "Band of Horses (US)"),
    ]
    deltas = {
        e.event_type: e.delta
        for e in detect_changes(_snapshot(DAY1), current, follower_jump_pct=10, popularity_jump=5)
    }
    assert deltas["followers_jump"] == 20.0 and deltas["popularity_jump"] == 10


def test_drops_are_changes_too() -> None:
    assert [
        kind
        for kind, *_ in _changes(_snapshot(DAY1), _snapshot(DAY2, followers=80_000, popularity=50))
    ] == [
        "followers_jump",
        "popularity_jump",
    ]


def test_withheld_fields_never_count_as_a_change() -> None:
    # The development tier withholds popularity and followers: missing is not zero.
    withheld = _snapshot(DAY2, popularity=None, followers=None)
    assert _changes(_snapshot(DAY1), withheld) == []
    assert _changes(withheld, _snapshot(DAY2)) == []


def test_snapshot_of_an_artist_sorts_for_stable_comparison() -> None:
    artist = Artist.model_validate(
        {
            "id": ARTIST,
            "name": "B",
            "genres": ["rock", "indie"],
            "popularity": 1,
            "followers": {"total": 9},
        }
    )
    releases = [SimplifiedAlbum(id="9" * 22, name="x"), SimplifiedAlbum(id="1" * 22, name="y")]
    snapshot = ArtistSnapshot.of(artist, releases, DAY2)
    assert snapshot.genres == ("indie", "rock") and snapshot.release_ids == ("1" * 22, "9" * 22)
    assert ArtistSnapshot.from_row(snapshot.as_row()) == snapshot


def test_batches_are_deterministic_and_deduplicated() -> None:
    ids = ["c" * 22, "a" * 22, "b" * 22, "a" * 22]
    assert batches(ids, 2) == [["a" * 22, "b" * 22], ["c" * 22]]


def test_conf_refuses_malformed_artist_ids_naming_the_position() -> None:
    with pytest.raises(InvalidRunConf, match=r"add_artist_ids\[1\]: String should match pattern"):
        ArtistMonitoringConf.parse({"add_artist_ids": [ARTIST, "spotify:artist:xyz"]})


def test_rerunning_a_day_that_finds_fewer_changes_leaves_no_stale_event(warehouse) -> None:
    from spotify_agent.spotify.monitoring import ArtistEvent
    from spotify_agent.spotify.monitoring_store import write_events

    first = [
        ArtistEvent(ARTIST, DAY2, "popularity_jump", "popularity", "60", "70", 10),
        ArtistEvent(ARTIST, DAY2, "name_changed", "name", "a", "b"),
    ]
    with warehouse.begin() as connection:
        write_events(
            connection, first, artist_ids=[ARTIST], day=DAY2, run_id="r1", trace_id="a" * 32
        )
        write_events(
            connection, first[:1], artist_ids=[ARTIST], day=DAY2, run_id="r2", trace_id="a" * 32
        )
        kinds = connection.exec_driver_sql("SELECT event_type FROM artist_events").scalars().all()
    assert kinds == ["popularity_jump"]
