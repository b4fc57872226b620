"""artist_monitoring end to end: `airflow dags test` against the emulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select

from spotify_agent.warehouse.schema import artist_events, artist_snapshots, quarantine
from spotify_emulator.catalog import Catalog
from spotify_emulator.config import CatalogSpec
from spotify_emulator.fixtures import dump_fixture, load_fixture
from spotify_emulator.generator import generate_catalog
from spotify_emulator.testing import EmulatorHandle, run_emulator

CATALOG = generate_catalog(
    CatalogSpec(
        seed=3, n_artists=60, albums_per_artist=2, tracks_per_album=2, n_users=1, events_per_user=5
    )
)
WATCHED = sorted(CATALOG.artists)[:55]  # two batches: 50 + 5


def _changed_catalog() -> tuple[Catalog, dict[str, str]]:
    """The same catalogue a day later: one new release, one follower jump, one genre change."""
    fixture = dump_fixture(CATALOG)
    new_release_artist, jump_artist, genre_artist = WATCHED[0], WATCHED[1], WATCHED[52]
    album = next(a for a in fixture["albums"] if a["artists"][0]["id"] == new_release_artist)
    fresh = json.loads(json.dumps(album))
    fresh["id"] = "0NewReleaseAlbum000001"
    fresh["name"] = "A Brand New Album"
    fresh["release_date"] = "2026-11-21"
    fresh["release_date_precision"] = "day"
    for item in fresh.get("tracks", {}).get("items", []):
        item["id"] = "0NewTrack" + item["id"][9:]
    fixture["albums"].append(fresh)
    for artist in fixture["artists"]:
        if artist["id"] == jump_artist:
            artist["followers"]["total"] = int(artist["followers"]["total"] * 1.5) + 10
        if artist["id"] == genre_artist:
            artist["genres"] = sorted({*artist["genres"], "hyperpop"})
    planted = {
        "new_release": new_release_artist,
        "followers_jump": jump_artist,
        "genres_changed": genre_artist,
    }
    return load_fixture(fixture), planted


@contextmanager
def _emulator(catalog: Catalog, tier: str = "extended") -> Iterator[EmulatorHandle]:
    with run_emulator(catalog=catalog, tier=tier) as emulator:  # type: ignore[arg-type]
        yield emulator


def _env(emulator: EmulatorHandle) -> dict[str, str]:
    return {"AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(emulator.connection())}


def _run(airflow_home, day: str, emulator: EmulatorHandle, conf: dict[str, object] | None = None):
    args = ["dags", "test", "artist_monitoring", day]
    if conf is not None:
        args += ["--conf", json.dumps(conf)]
    return airflow_home.airflow(*args, extra_env=_env(emulator))


def _rows(airflow_home, table, day_column, **where: object) -> list[dict[str, object]]:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        query = select(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        rows = [
            dict(row)
            for row in connection.execute(query.order_by(*table.primary_key.columns)).mappings()
        ]
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def day_two(airflow_home):
    """Day 1 (baseline, extended tier) then day 2 with planted changes; returns day 2's outcome."""
    with _emulator(CATALOG) as emulator:
        first = _run(airflow_home, "2026-11-20", emulator, {"add_artist_ids": WATCHED})
        assert first.returncode == 0, first.stdout[-4000:]
        calls_day_one = emulator.stats()["by_route"]
    changed, planted = _changed_catalog()
    with _emulator(changed) as emulator:
        second = _run(airflow_home, "2026-11-21", emulator)
        assert second.returncode == 0, second.stdout[-4000:]
    return {"calls_day_one": calls_day_one, "planted": planted}


def test_first_day_is_a_baseline_in_two_batched_calls(airflow_home, day_two) -> None:
    days = sorted(
        {row["snapshot_date"] for row in _rows(airflow_home, artist_snapshots, "snapshot_date")}
    )
    first_day = days[0]
    snapshots = _rows(airflow_home, artist_snapshots, "snapshot_date", snapshot_date=first_day)
    assert sorted(row["artist_id"] for row in snapshots) == WATCHED
    assert all(row["popularity"] is not None and row["followers"] is not None for row in snapshots)
    assert _rows(airflow_home, artist_events, "snapshot_date", snapshot_date=first_day) == []
    # 55 artists on the extended tier: two several-ids calls, not 55.
    assert sum(day_two["calls_day_one"]["GET /v1/artists"].values()) == 2


def test_second_day_finds_exactly_the_planted_changes(airflow_home, day_two) -> None:
    days = sorted(
        {row["snapshot_date"] for row in _rows(airflow_home, artist_snapshots, "snapshot_date")}
    )
    events = _rows(airflow_home, artist_events, "snapshot_date", snapshot_date=days[1])
    found = {(row["event_type"], row["artist_id"]) for row in events}
    assert found == {(kind, artist) for kind, artist in day_two["planted"].items()}
    new_release = next(row for row in events if row["event_type"] == "new_release")
    assert new_release["subject"] == "0NewReleaseAlbum000001"


def test_rerunning_a_day_changes_nothing(airflow_home, day_two) -> None:
    changed, _ = _changed_catalog()
    before_snapshots = _rows(airflow_home, artist_snapshots, "snapshot_date")
    before_events = _rows(airflow_home, artist_events, "snapshot_date")
    with _emulator(changed) as emulator:
        again = _run(airflow_home, "2026-11-21", emulator)
    assert again.returncode == 0, again.stdout[-4000:]
    assert _business(_rows(airflow_home, artist_snapshots, "snapshot_date")) == _business(
        before_snapshots
    )
    assert _business(_rows(airflow_home, artist_events, "snapshot_date")) == _business(
        before_events
    )


def _business(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows without the columns that name the run that wrote them."""
    return [
        {k: v for k, v in r.items() if k not in ("run_id", "captured_at", "trace_id")} for r in rows
    ]


def test_development_tier_stores_withheld_fields_as_missing_without_events(
    airflow_home, day_two
) -> None:
    changed, _ = _changed_catalog()
    with _emulator(changed, tier="development") as emulator:
        result = _run(airflow_home, "2026-11-22", emulator)
        calls = emulator.stats()["by_route"]
    assert result.returncode == 0, result.stdout[-4000:]
    days = sorted(
        {row["snapshot_date"] for row in _rows(airflow_home, artist_snapshots, "snapshot_date")}
    )
    snapshots = _rows(airflow_home, artist_snapshots, "snapshot_date", snapshot_date=days[-1])
    assert len(snapshots) == len(WATCHED)
    assert all(row["popularity"] is None and row["followers"] is None for row in snapshots)
    assert _rows(airflow_home, artist_events, "snapshot_date", snapshot_date=days[-1]) == []
    # No several-ids endpoint on this tier: one call per artist.
    assert sum(calls["GET /v1/artists/{artist_id}"].values()) == len(WATCHED)


def test_malformed_artist_ids_are_refused_before_the_run(airflow_home) -> None:
    with _emulator(CATALOG) as emulator:
        result = _run(
            airflow_home, "2026-11-23", emulator, {"add_artist_ids": ["spotify:artist:nope"]}
        )
    assert result.returncode != 0
    assert "Invalid input for param add_artist_ids" in result.stdout + result.stderr


def test_wrong_secret_fails_at_once_naming_the_connection_and_writes_nothing(airflow_home) -> None:
    def counts() -> tuple[int, int]:
        return (
            _count_rows(airflow_home, artist_snapshots),
            _count_rows(airflow_home, quarantine),
        )

    before = counts()
    with _emulator(CATALOG) as emulator:
        env = {
            "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(
                emulator.connection(client_secret="revoked-secret")  # pragma: allowlist secret
            )
        }
        # Self-contained: the run must have artists to fetch whatever ran before.
        conf = json.dumps({"add_artist_ids": WATCHED[:3]})
        result = airflow_home.airflow(
            "dags", "test", "artist_monitoring", "2026-11-24", "--conf", conf, extra_env=env
        )
    assert result.returncode != 0
    assert "spotify_default: Spotify refused the credentials" in result.stdout
    assert counts() == before


def _count_rows(airflow_home, table) -> int:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        value = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return value
