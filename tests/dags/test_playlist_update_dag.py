"""playlist_update end to end: `airflow dags test` against the emulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, select

from spotify_agent.warehouse.schema import audit_log, listening_events, playlist_syncs, quarantine
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator

CATALOG = CatalogSpec(seed=29, n_artists=30, albums_per_artist=3, tracks_per_album=6, n_users=2)
WRITE_ROUTES = tuple(
    f"{method} /v1/playlists/{{playlist_id}}/items" for method in ("POST", "PUT", "DELETE")
)
GHOST_TRACK = "0" * 21 + "Z"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(catalog=CATALOG) as handle:
        yield handle


def _owned(emulator: EmulatorHandle) -> list[str]:
    return sorted(
        p.id for p in emulator.catalog.playlists.values() if p.owner_id == emulator.user_id
    )


def _run(airflow_home, emulator: EmulatorHandle, day: str, conf: dict[str, object] | None = None):
    args = ["dags", "test", "playlist_update", day]
    if conf is not None:
        args += ["--conf", json.dumps(conf)]
    env = {"AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(emulator.connection())}
    return airflow_home.airflow(*args, extra_env=env)


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


def _rows(airflow_home, query) -> list[dict[str, object]]:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def track_list_run(airflow_home, emulator):
    playlist_id = _owned(emulator)[0]
    tracks = sorted(emulator.catalog.tracks)[:12]
    conf = {
        "manage": [
            {"playlist_id": playlist_id, "rule": "track_list", "track_ids": [*tracks, GHOST_TRACK]}
        ],
        "playlist_ids": [playlist_id],
    }
    emulator.reset_stats()
    result = _run(airflow_home, emulator, "2026-05-01", conf)
    assert result.returncode == 0, result.stdout[-4000:]
    return playlist_id, tracks, _writes(emulator)


def test_a_managed_playlist_becomes_its_track_list(airflow_home, emulator, track_list_run) -> None:
    playlist_id, tracks, writes = track_list_run
    assert _live(emulator, playlist_id) == tracks
    assert writes >= 1
    (row,) = _rows(
        airflow_home, select(playlist_syncs).where(playlist_syncs.c.playlist_id == playlist_id)
    )
    assert row["status"] == "applied"
    assert row["target_size"] == len(tracks)
    assert row["write_calls"] == writes
    audit = _rows(
        airflow_home,
        select(audit_log.c.action, audit_log.c.counts).where(
            audit_log.c.entity_type == "playlist", audit_log.c.entity_key == playlist_id
        ),
    )
    assert [entry["action"] for entry in audit] == ["playlist_changed"]


def test_a_target_track_spotify_does_not_know_is_quarantined(airflow_home, track_list_run) -> None:
    rows = _rows(
        airflow_home, select(quarantine.c.source, quarantine.c.payload, quarantine.c.reason)
    )
    assert any(
        GHOST_TRACK in row["payload"] and "does not know" in row["reason"] for row in rows
    ), rows


def test_the_next_run_with_nothing_new_makes_zero_write_calls(
    airflow_home, emulator, track_list_run
) -> None:
    playlist_id, tracks, _ = track_list_run
    emulator.reset_stats()
    result = _run(airflow_home, emulator, "2026-05-02", {"playlist_ids": [playlist_id]})
    assert result.returncode == 0, result.stdout[-4000:]
    assert _writes(emulator) == 0
    assert _live(emulator, playlist_id) == tracks
    statuses = [
        row["status"]
        for row in _rows(
            airflow_home,
            select(playlist_syncs)
            .where(playlist_syncs.c.playlist_id == playlist_id)
            .order_by(playlist_syncs.c.synced_at),
        )
    ]
    assert statuses == ["applied", "unchanged"]


def test_most_played_follows_the_listening_window(airflow_home, emulator, track_list_run) -> None:
    playlist_id = _owned(emulator)[1]
    tracks = sorted(emulator.catalog.tracks)[20:26]
    end = datetime(2026, 6, 1, tzinfo=UTC)
    # Track i is played 6 - i times in the week before the run.
    rows = [
        {
            "user_id": f"listener-{n}",
            "played_at": end - timedelta(days=2, minutes=n + 10 * rank),
            "track_id": track,
            "source": "test",
            "run_id": "seed",
            "ingested_at": end,
        }
        for rank, track in enumerate(tracks)
        for n in range(6 - rank)
    ]
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.begin() as connection:
        connection.execute(insert(listening_events), rows)
    engine.dispose()
    conf = {
        "manage": [
            {"playlist_id": playlist_id, "rule": "most_played", "size": 4, "window_days": 7}
        ],
        "playlist_ids": [playlist_id],
    }
    result = _run(airflow_home, emulator, "2026-06-01", conf)
    assert result.returncode == 0, result.stdout[-4000:]
    assert _live(emulator, playlist_id) == tracks[:4]


def test_malformed_playlist_ids_are_refused_before_the_run(airflow_home, emulator) -> None:
    result = _run(airflow_home, emulator, "2026-05-03", {"playlist_ids": ["not-a-playlist"]})
    assert result.returncode != 0
    assert "Invalid input for param playlist_ids" in result.stdout + result.stderr


def test_a_playlist_that_is_not_managed_fails_the_run_naming_it(airflow_home, emulator) -> None:
    unmanaged = "7" * 22
    emulator.reset_stats()
    result = _run(airflow_home, emulator, "2026-05-04", {"playlist_ids": [unmanaged]})
    assert result.returncode != 0
    assert f"playlist_ids: not managed (add them with `manage`): {unmanaged}" in result.stdout
    assert _writes(emulator) == 0


def test_a_revoked_refresh_token_fails_at_once_naming_the_connection(
    airflow_home, emulator, track_list_run
) -> None:
    playlist_id, tracks, _ = track_list_run
    syncs_before = _rows(airflow_home, select(playlist_syncs))
    emulator.reset_stats()
    env = {
        "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(
            emulator.connection(refresh_token="revoked-token")
        )
    }
    result = airflow_home.airflow(
        "dags",
        "test",
        "playlist_update",
        "2026-05-05",
        "--conf",
        json.dumps({"playlist_ids": [playlist_id]}),
        extra_env=env,
    )
    assert result.returncode != 0
    assert "spotify_default: Spotify refused the credentials" in result.stdout
    assert _rows(airflow_home, select(playlist_syncs)) == syncs_before
    assert _writes(emulator) == 0
    assert _live(emulator, playlist_id) == tracks


def test_a_most_played_playlist_without_plays_is_left_as_it_is(
    airflow_home, emulator, track_list_run
) -> None:
    playlist_id, tracks, _ = track_list_run
    emulator.reset_stats()
    conf = {
        "manage": [{"playlist_id": playlist_id, "rule": "most_played", "window_days": 1}],
        "playlist_ids": [playlist_id],
    }
    result = _run(airflow_home, emulator, "2026-03-01", conf)  # no listening data then
    assert result.returncode != 0
    assert "the target is empty" in result.stdout
    assert _writes(emulator) == 0
    assert _live(emulator, playlist_id) == tracks
    # Put the playlist back under its track list for the tests after this one.
    restore = {
        "manage": [{"playlist_id": playlist_id, "rule": "track_list", "track_ids": tracks}],
        "playlist_ids": [playlist_id],
    }
    assert _run(airflow_home, emulator, "2026-03-02", restore).returncode == 0
