"""The artist_monitoring job without Airflow, on each warehouse backend: the watch list planned in
fixed batches, a first day stored as a baseline, a second day's changes stored as events and
audited for the attempt, a re-run writing the same rows, a damaged profile quarantined naming the
field, an incomplete release listing left for a retry, and refused credentials writing nothing."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.spotify.artist_monitoring import plan_artist_batches, snapshot_artist_batch
from spotify_agent.spotify.confs import ArtistMonitoringConf
from spotify_agent.spotify.stats import CallStats
from spotify_agent.warehouse.schema import artist_events, artist_snapshots, audit_log, quarantine

ATTEMPT = Attempt(
    "artist_monitoring", "manual__job-test", "cd" * 16, task_id="snapshot_batch", try_number=1
)
DAY1, DAY2 = date(2026, 11, 20), date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
CONF = ArtistMonitoringConf()
STEADY, GROWING = "0MonitorArtistSteady01", "0MonitorArtistGrowing1"
NEW_ALBUM = "0MonitorNewAlbum000001"


def _artist(artist_id: str, followers: int) -> dict[str, Any]:
    return {
        "id": artist_id,
        "name": f"Artist {artist_id[-2:]}",
        "genres": ["indie"],
        "popularity": 50,
        "followers": {"total": followers},
    }


def _album(album_id: str) -> dict[str, Any]:
    return {
        "id": album_id,
        "name": f"Album {album_id[-2:]}",
        "album_type": "album",
        "release_date": "2026-01-01",
        "release_date_precision": "day",
        "total_tracks": 10,
    }


class Catalogue:
    """A Spotify client over a few artists: the calls artist monitoring makes, nothing else."""

    def __init__(self) -> None:
        self.profiles = {STEADY: _artist(STEADY, 1000), GROWING: _artist(GROWING, 1000)}
        self.albums = {
            STEADY: [_album("0MonitorSteadyAlbum001")],
            GROWING: [_album("0MonitorGrowingAlbum01")],
        }
        self.listed_total: dict[str, int] = {}  # a paging total that disagrees with the items

    def artists(self, artists: list[str]) -> Any:
        return {"artists": [copy.deepcopy(self.profiles.get(a)) for a in artists]}

    def artist(self, artist_id: str) -> Any:
        return copy.deepcopy(self.profiles[artist_id])

    def artist_albums(self, artist_id: str, **_paging: Any) -> Any:
        items = copy.deepcopy(self.albums.get(artist_id, []))
        total = self.listed_total.get(artist_id, len(items))
        return {"items": items, "total": total, "next": None}

    def next(self, result: Any) -> Any:
        return None

    def current_user_recently_played(self, **_window: Any) -> Any:
        raise AssertionError("artist monitoring never reads listening history")


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


def _rows(engine, table, **where: object) -> list[dict[str, Any]]:
    query = select(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(*table.primary_key.columns)).mappings()
        return [dict(row) for row in rows]


def test_the_watch_list_is_planned_in_fixed_batches_and_its_additions_audited(warehouse) -> None:
    ids = [f"0MonitorPlanned{n:07d}" for n in range(55)]

    planned = plan_artist_batches(
        warehouse, ArtistMonitoringConf(add_artist_ids=list(reversed(ids))), ATTEMPT, now=NOW
    )
    again = plan_artist_batches(warehouse, CONF, ATTEMPT, now=NOW)

    assert planned.batches == [ids[:50], ids[50:]]
    assert again.batches == planned.batches  # watched from then on, without being named again
    assert planned.summary_line() == "55 watched artists in 2 batches"
    (audit,) = _rows(warehouse, audit_log)
    assert (audit["action"], audit["counts"], audit["run_id"]) == (
        "artists_watched",
        {"artists": 55},
        ATTEMPT.run_id,
    )


def test_a_first_day_is_a_baseline_and_the_next_day_finds_the_changes(warehouse) -> None:
    client = Catalogue()
    first = _snapshot(warehouse, client, DAY1)
    client.profiles[GROWING]["followers"]["total"] = 1500
    client.albums[STEADY].append(_album(NEW_ALBUM))

    second = _snapshot(warehouse, client, DAY2, calls=CallStats())

    assert first.counts["snapshots"] == 2 and first.counts["events"] == 0
    events = _rows(warehouse, artist_events, snapshot_date=DAY2)
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
    audit = _rows(warehouse, audit_log)[-1]
    assert (audit["action"], audit["entity_key"], audit["trace_id"]) == (
        "artist_snapshots_written",
        f"{STEADY}..{GROWING}",
        ATTEMPT.trace_id,
    )
    assert audit["counts"] == second.counts
    assert second.summary_line() == f"batch of 2 artists: {second.counts}"


def test_a_re_run_of_a_day_writes_the_same_rows(warehouse) -> None:
    client = Catalogue()
    _snapshot(warehouse, client, DAY1)
    client.profiles[GROWING]["followers"]["total"] = 1500
    first = _snapshot(warehouse, client, DAY2)
    rows = _rows(warehouse, artist_snapshots), _rows(warehouse, artist_events)

    again = _snapshot(warehouse, client, DAY2)

    assert (_rows(warehouse, artist_snapshots), _rows(warehouse, artist_events)) == rows
    assert again.counts == first.counts


def test_a_damaged_profile_is_quarantined_naming_the_field_and_the_rest_stored(warehouse) -> None:
    client = Catalogue()
    client.profiles[GROWING]["popularity"] = "very"

    snapshot = _snapshot(warehouse, client, DAY1)

    assert [row["artist_id"] for row in _rows(warehouse, artist_snapshots)] == [STEADY]
    (item,) = _rows(warehouse, quarantine)
    assert (item["source"], item["field"], item["run_id"]) == (
        "spotify:artist",
        "popularity",
        ATTEMPT.run_id,
    )
    # Read three times (a damaged answer is usually transient): each reading counted, kept once.
    assert snapshot.counts["quarantined"] == 3
    assert _rows(warehouse, audit_log)[-1]["counts"] == snapshot.counts


def test_an_incomplete_release_listing_is_not_snapshotted_and_left_for_a_retry(warehouse) -> None:
    client = Catalogue()
    client.listed_total[GROWING] = 5  # one album listed, five announced

    snapshot = _snapshot(warehouse, client, DAY1)

    assert snapshot.incomplete == (GROWING,)
    assert snapshot.incomplete_line() == f"1 artists had no complete release listing: {GROWING}"
    assert [row["artist_id"] for row in _rows(warehouse, artist_snapshots)] == [STEADY]
    assert snapshot.counts["quarantined"] >= 1


class SpotifyOauthError(Exception):
    """What spotipy raises when the accounts service refuses the app's credentials."""

    error = "invalid_client"
    error_description = "Invalid client secret"


class Refusing(Catalogue):
    def artists(self, artists: list[str]) -> Any:
        raise SpotifyOauthError("refused")


def test_refused_credentials_fail_naming_the_connection_and_write_nothing(warehouse) -> None:
    with pytest.raises(PermanentFailure, match="spotify_default: Spotify refused the credentials"):
        _snapshot(warehouse, Refusing(), DAY1)

    assert _rows(warehouse, artist_snapshots) == []
    assert _rows(warehouse, audit_log) == []
