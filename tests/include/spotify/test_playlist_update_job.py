"""The playlist_update job without Airflow, on each warehouse backend, against the Spotify
emulator over real HTTP: a managed playlist made equal to its track list with an unknown track
quarantined and the sync audited for the attempt, a second sync writing nothing, an unmanaged
playlist refused before any change, a collapsed most_played target refused and audited with
nothing written, and refused credentials failing naming the connection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.spotify.confs import PlaylistUpdateConf
from spotify_agent.spotify.playlist_update import plan_playlists, sync_managed_playlist
from spotify_agent.spotify.stats import CallStats
from spotify_agent.warehouse.schema import audit_log, managed_playlists, playlist_syncs, quarantine
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.include.spotify_emulator.spotipy_client import user_client

CATALOG = CatalogSpec(seed=29, n_artists=30, albums_per_artist=3, tracks_per_album=6, n_users=2)
SCOPE = "playlist-modify-public playlist-modify-private user-read-private"
WRITE_ROUTES = tuple(
    f"{method} /v1/playlists/{{playlist_id}}/items" for method in ("POST", "PUT", "DELETE")
)
GHOST_TRACK = "0" * 21 + "Z"
END = datetime(2026, 5, 2, tzinfo=UTC)
NOW = datetime(2026, 5, 2, 3, 0, tzinfo=UTC)


def _attempt(run_id: str = "manual__job-test") -> Attempt:
    return Attempt("playlist_update", run_id, "ef" * 16, task_id="sync_playlist", try_number=1)


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(catalog=CATALOG) as handle:
        yield handle


def _user_client(emulator: EmulatorHandle, monkeypatch, refresh_token: str = "") -> Any:
    """A user client holding only a refresh token, as a stored connection would."""
    return user_client(emulator, monkeypatch, scope=SCOPE, refresh_token=refresh_token)


def _owned(emulator: EmulatorHandle) -> list[str]:
    return sorted(
        p.id for p in emulator.catalog.playlists.values() if p.owner_id == emulator.user_id
    )


def _live(emulator: EmulatorHandle, playlist_id: str) -> list[str]:
    url: str | None = f"/playlists/{playlist_id}/items?limit=50"
    ids: list[str] = []
    while url:
        page = emulator.user_get(url)
        ids += [item["item"]["id"] for item in page["items"]]
        url = page["next"]
    return ids


def _writes(emulator: EmulatorHandle) -> int:
    by_route = emulator.stats()["by_route"]
    return sum(sum(by_route.get(route, {}).values()) for route in WRITE_ROUTES)


def _rows(engine, table) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        query = select(table).order_by(*table.primary_key.columns)
        return [dict(row) for row in connection.execute(query).mappings()]


def _manage(warehouse, **spec: Any) -> dict[str, Any]:
    conf = PlaylistUpdateConf.model_validate({"manage": [spec]})
    (playlist,) = plan_playlists(warehouse, conf, _attempt(), now=NOW).playlists
    return playlist


def _sync(warehouse, client, playlist, attempt=None, calls=None):
    return sync_managed_playlist(
        warehouse,
        client,
        playlist,
        attempt or _attempt(),
        tier="extended",
        end=END,
        calls=calls,
        now=lambda: NOW,
    )


def test_a_playlist_becomes_its_track_list_and_a_second_sync_writes_nothing(
    warehouse, emulator, monkeypatch
) -> None:
    client = _user_client(emulator, monkeypatch)
    playlist_id = _owned(emulator)[0]
    tracks = sorted(emulator.catalog.tracks)[:12]
    playlist = _manage(
        warehouse, playlist_id=playlist_id, rule="track_list", track_ids=[*tracks, GHOST_TRACK]
    )

    first = _sync(warehouse, client, playlist, calls=CallStats())

    assert _live(emulator, playlist_id) == tracks
    assert (first.status, first.refused) == ("applied", None)
    assert first.counts["tracks_added"] == 12 and first.counts["write_calls"] >= 1
    assert first.counts["quarantined"] == 1
    assert first.summary_line().startswith(f"playlist {playlist_id}: applied (")
    assert "): 12 tracks added, " in first.summary_line()
    assert ", 1 quarantined" in first.summary_line()
    (item,) = _rows(warehouse, quarantine)
    assert (item["source"], item["field"], item["run_id"]) == (
        "playlist_target",
        "id",
        "manual__job-test",
    )
    (sync_row,) = _rows(warehouse, playlist_syncs)
    assert (sync_row["status"], sync_row["target_size"], sync_row["trace_id"]) == (
        "applied",
        12,
        "ef" * 16,
    )
    audit = _rows(warehouse, audit_log)[-1]
    assert (audit["action"], audit["entity_key"], audit["run_id"], audit["task_id"]) == (
        "playlist_changed",
        playlist_id,
        "manual__job-test",
        "sync_playlist",
    )
    assert audit["counts"] == first.counts

    emulator.reset_stats()
    second = _sync(warehouse, client, playlist, attempt=_attempt("manual__job-test-2"))

    assert _writes(emulator) == 0
    assert (second.status, second.strategy) == ("unchanged", "none")
    assert second.counts["write_calls"] == 0 and second.counts["playlists_changed"] == 0
    assert _rows(warehouse, audit_log)[-1]["action"] == "playlist_unchanged"


def test_an_unmanaged_playlist_is_refused_naming_it_and_nothing_changes(
    warehouse, emulator
) -> None:
    managed, unmanaged = _owned(emulator)[:2]
    conf = PlaylistUpdateConf.model_validate(
        {
            "manage": [{"playlist_id": managed, "rule": "most_played"}],
            "playlist_ids": [unmanaged],
        }
    )

    planned = plan_playlists(warehouse, conf, _attempt(), now=NOW)

    assert planned.playlists == []
    assert planned.refused is not None and unmanaged in planned.refused
    assert _rows(warehouse, managed_playlists) == []  # the run's manage is rolled back
    assert _rows(warehouse, audit_log) == []


def test_managing_and_unmanaging_are_audited_for_the_attempt(warehouse, emulator) -> None:
    first, second = _owned(emulator)[:2]
    conf = PlaylistUpdateConf.model_validate(
        {"manage": [{"playlist_id": first}, {"playlist_id": second}]}
    )
    plan_playlists(warehouse, conf, _attempt(), now=NOW)

    planned = plan_playlists(
        warehouse,
        PlaylistUpdateConf(unmanage_playlist_ids=[second]),
        _attempt("manual__job-test-2"),
        now=NOW,
    )

    assert [p["playlist_id"] for p in planned.playlists] == [first]
    assert planned.summary_line() == "1 managed playlists to sync"
    assert [(a["action"], a["counts"], a["run_id"]) for a in _rows(warehouse, audit_log)] == [
        ("playlists_managed", {"playlists": 2}, "manual__job-test"),
        ("playlists_unmanaged", {"playlists": 1}, "manual__job-test-2"),
    ]


def test_a_collapsed_most_played_target_is_refused_audited_and_not_written(
    warehouse, emulator, monkeypatch
) -> None:
    client = _user_client(emulator, monkeypatch)
    playlist_id = _owned(emulator)[0]
    assert _live(emulator, playlist_id), "the catalogue's playlist starts with tracks"
    before = _live(emulator, playlist_id)
    playlist = _manage(warehouse, playlist_id=playlist_id, rule="most_played", size=10)
    emulator.reset_stats()

    synced = _sync(warehouse, client, playlist)  # no listening data: an empty target

    assert synced.status == "refused"
    assert synced.refused is not None and "the target is empty" in synced.refused
    assert _writes(emulator) == 0 and _live(emulator, playlist_id) == before
    assert _rows(warehouse, playlist_syncs) == []
    audit = _rows(warehouse, audit_log)[-1]
    assert (audit["action"], audit["outcome"], audit["entity_key"], audit["counts"]) == (
        "playlist_sync_refused",
        "refused",
        playlist_id,
        {"target_tracks": 0},
    )
    assert audit["detail"] == synced.refused


def test_refused_credentials_fail_naming_the_connection_and_write_nothing(
    warehouse, emulator, monkeypatch
) -> None:
    playlist_id = _owned(emulator)[0]
    playlist = _manage(
        warehouse,
        playlist_id=playlist_id,
        rule="track_list",
        track_ids=sorted(emulator.catalog.tracks)[:3],
        spotify_conn_id="spotify_test",
    )
    emulator.revoke(refresh_token=emulator.refresh_token)
    emulator.reset_stats()

    with pytest.raises(PermanentFailure, match="spotify_test: Spotify refused the credentials"):
        _sync(warehouse, _user_client(emulator, monkeypatch), playlist)

    assert _writes(emulator) == 0
    assert _rows(warehouse, playlist_syncs) == []
    assert [a["action"] for a in _rows(warehouse, audit_log)] == ["playlists_managed"]
