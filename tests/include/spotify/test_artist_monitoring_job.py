"""The artist_monitoring job without Airflow, on each warehouse backend, against the Spotify
emulator over real HTTP: the watch list planned in fixed batches, a first day stored as a
baseline, a second day's changes stored as events and audited for the attempt, a re-run writing
the same rows, a damaged profile quarantined naming the field, an incomplete release listing left
for a retry, and refused credentials writing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.spotify.artist_monitoring import plan_artist_batches, snapshot_artist_batch
from spotify_agent.spotify.confs import ArtistMonitoringConf
from spotify_agent.spotify.stats import CallStats
from spotify_agent.warehouse.schema import artist_events, artist_snapshots, audit_log, quarantine
from spotify_emulator.catalog import Catalog
from spotify_emulator.config import CatalogSpec
from spotify_emulator.fixtures import load_fixture
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.conftest import table_rows
from tests.include.spotify_emulator.spotipy_client import user_client

ATTEMPT = Attempt(
    "artist_monitoring", "manual__job-test", "cd" * 16, task_id="snapshot_batch", try_number=1
)
DAY1, DAY2 = date(2026, 11, 20), date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
CONF = ArtistMonitoringConf()
SCOPE = "user-read-private"
STEADY, GROWING = "0MonitorArtistSteady01", "0MonitorArtistGrowing1"
STEADY_ALBUM, GROWING_ALBUM = "0MonitorSteadyAlbum001", "0MonitorGrowingAlbum01"
NEW_ALBUM = "0MonitorNewAlbum000001"
ARTIST_ROUTES = ("GET /v1/artists", "GET /v1/artists/{artist_id}")
ALBUMS_ROUTE = "GET /v1/artists/{artist_id}/albums"
# ``missing_fields`` faults on chosen requests of one snapshot (artist ids in the order given):
# the decision for the n-th Web API request depends only on (seed, n), so these seeds replay the
# same damage on every run; each test checks the emulator's fault count to prove it landed.
# Requests 0-2 (the batch, then GROWING read again twice) lose GROWING's ``id``; request 3
# (STEADY's releases) is whole.
DAMAGED_PROFILE_FAULTS = "rate=0.9,seed=29,kinds=missing_fields"
# Requests 0-1 (the batch, STEADY's releases) are whole; 2-4 (GROWING's three readings of its
# releases) each lose an ``id`` or their ``items``.
INCOMPLETE_LISTING_FAULTS = "rate=0.5,seed=14,kinds=missing_fields"


def _artist(artist_id: str, followers: int) -> dict[str, Any]:
    return {
        "type": "artist",
        "id": artist_id,
        "name": f"Artist {artist_id[-2:]}",
        "genres": ["indie"],
        "popularity": 50,
        "followers": {"href": None, "total": followers},
    }


def _album(artist_id: str, album_id: str) -> dict[str, Any]:
    return {
        "type": "album",
        "id": album_id,
        "name": f"Album {album_id[-2:]}",
        "album_type": "album",
        "release_date": "2026-01-01",
        "release_date_precision": "day",
        "artists": [{"id": artist_id, "name": f"Artist {artist_id[-2:]}"}],
        "tracks": {
            "items": [
                {
                    "id": "0MonitorTrack" + album_id[-9:],
                    "name": f"Track {album_id[-2:]}",
                    "track_number": 1,
                    "artists": [{"id": artist_id}],
                }
            ]
        },
    }


def _catalogue(*, growing_followers: int = 1000, new_release: bool = False) -> Catalog:
    """The two watched artists with a release each; a day later, any planted changes."""
    albums = [_album(STEADY, STEADY_ALBUM), _album(GROWING, GROWING_ALBUM)]
    if new_release:
        albums.append(_album(STEADY, NEW_ALBUM))
    fixture = {
        "artists": [_artist(STEADY, 1000), _artist(GROWING, growing_followers)],
        "albums": albums,
    }
    return load_fixture(fixture, CatalogSpec(seed=11, n_users=1, events_per_user=5))


DAY_ONE = _catalogue()
DAY_TWO = _catalogue(growing_followers=1500, new_release=True)  # a follower jump, a new release


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(catalog=DAY_ONE) as handle:
        yield handle


def _user_client(emulator: EmulatorHandle, monkeypatch, client_secret: str = "") -> Any:
    """A user client holding only a refresh token, as a stored connection would."""
    return user_client(emulator, monkeypatch, scope=SCOPE, client_secret=client_secret)


def _snapshot(warehouse, client, day, artist_ids=(STEADY, GROWING), calls=None):
    return snapshot_artist_batch(
        warehouse,
        client,
        list(artist_ids),
        CONF,
        ATTEMPT,
        tier="extended",
        day=day,
        calls=calls,
        now=NOW,
    )


def _snapshot_day_two(warehouse, monkeypatch, calls=None):
    """Day 2 on an emulator serving the changed catalogue (a new server, as on a new day)."""
    with run_emulator(catalog=DAY_TWO) as emulator:
        return _snapshot(warehouse, _user_client(emulator, monkeypatch), DAY2, calls=calls)


def _calls(emulator: EmulatorHandle, *routes: str) -> int:
    by_route = emulator.stats()["by_route"]
    return sum(sum(by_route.get(route, {}).values()) for route in routes)


def test_the_watch_list_is_planned_in_fixed_batches_and_its_additions_audited(
    warehouse, monkeypatch
) -> None:
    catalogue = CatalogSpec(seed=5, n_artists=55, albums_per_artist=1, tracks_per_album=1)
    with run_emulator(catalog=catalogue) as emulator:
        ids = sorted(emulator.artist_ids())
        assert len(ids) == 55

        planned = plan_artist_batches(
            warehouse, ArtistMonitoringConf(add_artist_ids=list(reversed(ids))), ATTEMPT, now=NOW
        )
        again = plan_artist_batches(warehouse, CONF, ATTEMPT, now=NOW)
        (audit,) = table_rows(warehouse, audit_log)
        snapshot = _snapshot(
            warehouse, _user_client(emulator, monkeypatch), DAY1, planned.batches[0]
        )

        assert planned.batches == [ids[:50], ids[50:]]
        assert again.batches == planned.batches  # watched from then on, without being named again
        assert planned.summary_line() == "55 watched artists in 2 batches"
        assert (audit["action"], audit["counts"], audit["run_id"]) == (
            "artists_watched",
            {"artists": 55},
            ATTEMPT.run_id,
        )
        # A batch is what one several-ids call of the extended tier takes: 50 profiles, 1 call.
        assert snapshot.counts["snapshots"] == 50
        assert _calls(emulator, "GET /v1/artists") == 1
        assert _calls(emulator, "GET /v1/artists/{artist_id}") == 0


def test_a_first_day_is_a_baseline_and_the_next_day_finds_the_changes(
    warehouse, emulator, monkeypatch
) -> None:
    first = _snapshot(warehouse, _user_client(emulator, monkeypatch), DAY1)

    second = _snapshot_day_two(warehouse, monkeypatch, calls=CallStats())

    assert first.counts["snapshots"] == 2 and first.counts["events"] == 0
    assert table_rows(warehouse, artist_events, snapshot_date=DAY1) == []
    events = table_rows(warehouse, artist_events, snapshot_date=DAY2)
    assert {(e["event_type"], e["artist_id"], e["subject"]) for e in events} == {
        ("new_release", STEADY, NEW_ALBUM),
        ("followers_jump", GROWING, "followers"),
    }
    assert {row["run_id"] for row in events} == {ATTEMPT.run_id}
    assert second.counts == {
        "rows_written": 4,
        "snapshots": 2,
        "events": 2,
        "quarantined": 0,
        "releases": 3,
        **CallStats().summary(),
    }
    audit = table_rows(warehouse, audit_log)[-1]
    assert (audit["action"], audit["entity_key"], audit["trace_id"]) == (
        "artist_snapshots_written",
        f"{STEADY}..{GROWING}",
        ATTEMPT.trace_id,
    )
    assert audit["counts"] == second.counts
    assert (
        second.summary_line()
        == "batch of 2 artists: 4 rows written, 2 snapshots, 2 events, 3 releases"
    )


def test_a_re_run_of_a_day_writes_the_same_rows(warehouse, emulator, monkeypatch) -> None:
    _snapshot(warehouse, _user_client(emulator, monkeypatch), DAY1)
    with run_emulator(catalog=DAY_TWO) as day_two:
        client = _user_client(day_two, monkeypatch)
        first = _snapshot(warehouse, client, DAY2)
        rows = table_rows(warehouse, artist_snapshots), table_rows(warehouse, artist_events)

        again = _snapshot(warehouse, client, DAY2)

    assert len(rows[1]) == 2  # the re-run has events to write again, not only snapshots
    assert (table_rows(warehouse, artist_snapshots), table_rows(warehouse, artist_events)) == rows
    assert again.counts == first.counts


def test_a_damaged_profile_is_quarantined_naming_the_field_and_the_rest_stored(
    warehouse, emulator, monkeypatch
) -> None:
    client = _user_client(emulator, monkeypatch)
    emulator.set_faults(DAMAGED_PROFILE_FAULTS)

    snapshot = _snapshot(warehouse, client, DAY1)

    stats = emulator.stats()
    assert stats["faults"] == {"missing_fields": 3}
    # The batch, then the damaged profile read again on its own twice; STEADY's releases once.
    assert _calls(emulator, "GET /v1/artists") == 1
    assert _calls(emulator, "GET /v1/artists/{artist_id}") == 2
    assert _calls(emulator, ALBUMS_ROUTE) == 1
    assert [row["artist_id"] for row in table_rows(warehouse, artist_snapshots)] == [STEADY]
    (item,) = table_rows(warehouse, quarantine)
    assert (item["source"], item["field"], item["run_id"]) == (
        "spotify:artist",
        "id",
        ATTEMPT.run_id,
    )
    # Read three times (a damaged answer is usually transient): each reading counted, kept once.
    assert snapshot.counts["quarantined"] == 3
    assert table_rows(warehouse, audit_log)[-1]["counts"] == snapshot.counts


def test_an_incomplete_release_listing_is_not_snapshotted_and_left_for_a_retry(
    warehouse, emulator, monkeypatch
) -> None:
    client = _user_client(emulator, monkeypatch)
    emulator.set_faults(INCOMPLETE_LISTING_FAULTS)

    snapshot = _snapshot(warehouse, client, DAY1)

    assert emulator.stats()["faults"] == {"missing_fields": 3}
    assert _calls(emulator, *ARTIST_ROUTES) == 1
    assert _calls(emulator, ALBUMS_ROUTE) == 4  # STEADY once, GROWING three times
    assert snapshot.incomplete == (GROWING,)
    assert snapshot.incomplete_line() == f"1 artists had no complete release listing: {GROWING}"
    assert [row["artist_id"] for row in table_rows(warehouse, artist_snapshots)] == [STEADY]
    assert snapshot.counts["quarantined"] >= 1
    left = [
        row for row in table_rows(warehouse, quarantine) if row["source"] == "spotify:artist_albums"
    ]
    assert any(GROWING in row["payload"] and "no complete listing" in row["reason"] for row in left)


def test_refused_credentials_fail_naming_the_connection_and_write_nothing(
    warehouse, emulator, monkeypatch
) -> None:
    wrong = "wrong-secret"  # pragma: allowlist secret
    client = _user_client(emulator, monkeypatch, client_secret=wrong)

    with pytest.raises(PermanentFailure, match="spotify_default: Spotify refused the credentials"):
        _snapshot(warehouse, client, DAY1)

    assert _calls(emulator, *ARTIST_ROUTES, ALBUMS_ROUTE) == 0  # refused at the login
    assert table_rows(warehouse, artist_snapshots) == []
    assert table_rows(warehouse, quarantine) == []
    assert table_rows(warehouse, audit_log) == []
